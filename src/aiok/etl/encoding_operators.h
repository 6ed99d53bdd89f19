// Operators that turn a categorical value into a number learned from the train rows (RecDP's
// and NVTabular's encoders): how often the value occurs (count_encode, frequency_encode) and
// the mean label of its rows (target_encode). All read raw keys and write a dense feature.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "aiok/etl/operator_base.h"

namespace aiok::etl {

/// What count_encode and frequency_encode share: a count of each value's train rows (missing
/// values not counted) and of the train rows, saved as the fitted state. They differ only in
/// what they write for a value.
template <typename OptionsT>
class CountingEncoder : public OperatorWithOptions<OptionsT> {
 public:
  ColumnKind kind() const override { return ColumnKind::kCategorical; }
  ColumnKind output_kind() const override { return ColumnKind::kDense; }
  bool needs_fit() const override { return true; }
  void FitCategorical(const int64_t* values, size_t n) override;
  nlohmann::json SaveState() const override;
  void LoadState(const nlohmann::json& state) override;

 protected:
  /// The value's train rows (0 unseen or missing).
  int64_t CountOf(int64_t value) const;

  std::unordered_map<int64_t, int64_t> counts_;
  int64_t rows_ = 0;  // train rows seen, missing values included
};

struct CountEncodeOptions {
  bool log = false;
  template <typename V>
  void Visit(V& v) {
    v.Flag("log", &log, "write log(1 + count) instead of the count");
  }
};

/// A value's number of train rows (0 for a value unseen in fit, and for missing values).
class CountEncode final : public CountingEncoder<CountEncodeOptions> {
 public:
  const char* name() const override { return "count_encode"; }
  void TransformIdsToDense(const int64_t* values, size_t n, double* out) const override;
};

struct FrequencyEncodeOptions {
  template <typename V>
  void Visit(V&) {}
};

/// A value's share of the train rows, in [0, 1] (0 unseen or missing).
class FrequencyEncode final : public CountingEncoder<FrequencyEncodeOptions> {
 public:
  const char* name() const override { return "frequency_encode"; }
  void TransformIdsToDense(const int64_t* values, size_t n, double* out) const override;
};

struct TargetEncodeOptions {
  int64_t folds = 5;
  double smoothing = 20.0;
  int64_t seed = 0;
  template <typename V>
  void Visit(V& v) {
    v.Int("folds", &folds, 1, 1000,
          "train rows are encoded out of fold: from the other folds' rows (1: in fold, leaks)");
    v.Real("smoothing", &smoothing, 0.0, 1e12,
           "weight of the prior: (sum + prior * smoothing) / (count + smoothing)");
    v.Int("seed", &seed, 0, kNoIntLimit, "seed of the rows' fold assignment");
  }
};

/// The mean label of a value's train rows, smoothed toward the train mean (the prior) with
/// weight `smoothing` — a click rate for a binary label, a mean for a continuous one. Valid,
/// test and serving rows take the statistics of every train row. Train rows take them out of
/// fold: a row in fold f is encoded from the rows of the other folds only, so that its own
/// label never reaches its feature (the leak that makes in-fold target encoding overfit).
/// Folds are a hash of (seed, the row's record number), the same in every run.
class TargetEncode final : public OperatorWithOptions<TargetEncodeOptions> {
 public:
  const char* name() const override { return "target_encode"; }
  ColumnKind kind() const override { return ColumnKind::kCategorical; }
  ColumnKind output_kind() const override { return ColumnKind::kDense; }
  bool needs_fit() const override { return true; }
  bool uses_labels() const override { return true; }
  bool out_of_fold() const override { return options_.folds > 1; }
  int32_t FoldOf(int64_t record) const override;
  void FitCategoricalInFolds(const int64_t* values, const float* labels, const int32_t* folds,
                             size_t n) override;
  void FitCategoricalWithLabels(const int64_t* values, const float* labels, size_t n) override;
  void FinishFit() override;
  void TransformIdsToDense(const int64_t* values, size_t n, double* out) const override;
  void TransformTrainRows(const int64_t* values, const int32_t* folds, size_t n,
                          double* out) const override;
  nlohmann::json SaveState() const override;
  void LoadState(const nlohmann::json& state) override;

 private:
  // Label sum and row count of a value, per fold while fitting.
  struct Stats {
    std::vector<double> sums;
    std::vector<int64_t> counts;
  };
  double Smoothed(double sum, double count, double prior) const;

  std::unordered_map<int64_t, Stats> stats_;  // per value (missing included, as a value)
  std::vector<double> fold_sums_;             // every value's, per fold
  std::vector<int64_t> fold_counts_;
  // After fit: the full-train encoding of each value, and the prior.
  std::unordered_map<int64_t, double> encoded_;
  double prior_ = 0.0;
};

}  // namespace aiok::etl
