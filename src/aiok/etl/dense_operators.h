// Operators on dense columns (doubles, NaN = missing).
#pragma once

#include <string>

#include "aiok/etl/dense_value_counts.h"
#include "aiok/etl/operator_base.h"

namespace aiok::etl {

struct FillMissingOptions {
  std::string strategy = "constant";
  double value = 0.0;
  template <typename V>
  void Visit(V& v) {
    v.Text("strategy", &strategy, {"constant", "median"}, "constant value, or the train median");
    v.Real("value", &value, -kNoRealLimit, kNoRealLimit, "the constant (strategy constant)");
  }
};

/// Replaces missing values with a constant or with the median of the training values (the
/// mean of the two middle values for an even count, as pandas does).
class FillMissing final : public OperatorWithOptions<FillMissingOptions> {
 public:
  const char* name() const override { return "fill_missing"; }
  ColumnKind kind() const override { return ColumnKind::kDense; }
  bool needs_fit() const override { return options_.strategy == "median"; }
  void FitDense(const double* values, size_t n) override;
  void FinishFit() override;
  void TransformDense(double* values, size_t n) const override;
  nlohmann::json SaveState() const override;
  void LoadState(const nlohmann::json& state) override;

 private:
  // Exact median from value counts: memory grows with distinct values, not rows.
  DenseValueCounts counts_;
  double fill_ = 0.0;
  bool fitted_ = false;
};

struct ClipOptions {
  double min = -kNoRealLimit;
  double max = kNoRealLimit;
  template <typename V>
  void Visit(V& v) {
    v.Real("min", &min, -kNoRealLimit, kNoRealLimit, "lower bound (none by default)");
    v.Real("max", &max, -kNoRealLimit, kNoRealLimit, "upper bound (none by default)");
  }
};

/// Limits values to [min, max]; missing stays missing.
class Clip final : public OperatorWithOptions<ClipOptions> {
 public:
  const char* name() const override { return "clip"; }
  ColumnKind kind() const override { return ColumnKind::kDense; }
  bool needs_fit() const override { return false; }
  void CheckOptions(const std::string& where) const override;
  void TransformDense(double* values, size_t n) const override;
};

struct NoOptions {
  template <typename V>
  void Visit(V&) {}
};

/// log(1 + x); a value below -1 is an error (clip first); missing stays missing.
class Log1p final : public OperatorWithOptions<NoOptions> {
 public:
  const char* name() const override { return "log1p"; }
  ColumnKind kind() const override { return ColumnKind::kDense; }
  bool needs_fit() const override { return false; }
  void TransformDense(double* values, size_t n) const override;
};

struct NormalizeOptions {
  std::string method = "standard";
  template <typename V>
  void Visit(V& v) {
    v.Text("method", &method, {"standard", "minmax"},
           "standard: (x - mean) / std; minmax: (x - min) / (max - min)");
  }
};

/// Standardizes with the training mean and population standard deviation, or scales the
/// training range to [0, 1]. A constant column maps to 0. Missing stays missing.
class Normalize final : public OperatorWithOptions<NormalizeOptions> {
 public:
  const char* name() const override { return "normalize"; }
  ColumnKind kind() const override { return ColumnKind::kDense; }
  bool needs_fit() const override { return true; }
  void FitDense(const double* values, size_t n) override;
  void FinishFit() override;
  void TransformDense(double* values, size_t n) const override;
  nlohmann::json SaveState() const override;
  void LoadState(const nlohmann::json& state) override;

 private:
  // Running statistics, merged batch by batch (Chan et al.).
  int64_t count_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;
  double min_ = kNoRealLimit;
  double max_ = -kNoRealLimit;
  double shift_ = 0.0;  // fitted: x -> (x - shift_) * scale_
  double scale_ = 1.0;
  bool fitted_ = false;
};

}  // namespace aiok::etl
