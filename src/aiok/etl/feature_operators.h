// Operators that make a new kind of feature: dense values into bucket ids (bucketize), and
// several categorical columns into one crossed id (hashed_cross, the first operator of a step
// with `inputs`).
#pragma once

#include <string>
#include <vector>

#include "aiok/etl/dense_value_counts.h"
#include "aiok/etl/operator_base.h"

namespace aiok::etl {

struct BucketizeOptions {
  int64_t quantiles = 0;
  std::string boundaries;
  template <typename V>
  void Visit(V& v) {
    v.Int("quantiles", &quantiles, 0, 1 << 16,
          "fit this many equal-frequency buckets on the train rows (0: use boundaries)");
    v.Text("boundaries", &boundaries, {},
           "fixed, ascending bucket boundaries, comma-separated (\"0,1,10,100\")");
  }
};

/// Dense values into ids: 0 for missing, else 1 + the number of boundaries at or below the
/// value (so boundaries b1 < b2 give (-inf, b1), [b1, b2), [b2, inf) ids 1, 2, 3). The
/// boundaries are given, or the train rows' quantiles (exact, from value counts; repeated
/// quantiles merge, so skewed columns get fewer buckets).
class Bucketize final : public OperatorWithOptions<BucketizeOptions> {
 public:
  const char* name() const override { return "bucketize"; }
  ColumnKind kind() const override { return ColumnKind::kDense; }
  ColumnKind output_kind() const override { return ColumnKind::kCategorical; }
  bool needs_fit() const override { return options_.quantiles > 0; }
  void CheckOptions(const std::string& where) const override;
  void FitDense(const double* values, size_t n) override;
  void FinishFit() override;
  void TransformDenseToIds(const double* values, size_t n, int64_t* ids) const override;
  int64_t cardinality() const override { return static_cast<int64_t>(boundaries_.size()) + 2; }
  nlohmann::json SaveState() const override;
  void LoadState(const nlohmann::json& state) override;

 private:
  DenseValueCounts counts_;
  std::vector<double> boundaries_;
};

struct HashedCrossOptions {
  int64_t buckets = 1000000;
  template <typename V>
  void Visit(V& v) {
    v.Int("buckets", &buckets, 1, int64_t{1} << 40, "number of hash buckets of the cross");
  }
};

/// Two or more columns (any role, read as keys) into 1 + hash(keys) mod buckets; 0 when every
/// input is missing. Needs no fit: a cross's values are too many to count, the buckets share
/// them (a categorify after it can keep the frequent ones).
class HashedCross final : public OperatorWithOptions<HashedCrossOptions> {
 public:
  const char* name() const override { return "hashed_cross"; }
  ColumnKind kind() const override { return ColumnKind::kCategorical; }
  int inputs() const override { return kManyInputs; }
  bool needs_fit() const override { return false; }
  void TransformInputs(const std::vector<const int64_t*>& inputs, size_t n,
                       int64_t* ids) const override;
  int64_t cardinality() const override { return options_.buckets + 1; }
};

}  // namespace aiok::etl
