// Operators that turn a categorical value into a number learned from the train rows (RecDP's
// and NVTabular's encoders): how often the value occurs (count_encode, frequency_encode) and
// the mean label of its rows (target_encode). All read raw keys and write a dense feature.
//
// Their statistics live in flat arrays indexed by code, not in hash maps of values: the codes
// of their own dictionary when they fit raw keys, or — in the ETL, when the field also has a
// categorify — the codes categorify already gave every row (Operator::BeginCodes), so that
// an encoder costs no hash probe at all. The arrays keep two slots in front of code 0: values
// the fit never saw, then missing values (code -1).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aiok/etl/operator_base.h"
#include "aiok/etl/value_dictionary.h"

namespace aiok::etl {

/// The codes an encoder keeps its statistics by, and the values they stand for.
class EncoderCodes {
 public:
  /// The code of a value the fit never saw (missing values are code -1).
  static constexpr int32_t kUnseen = -2;
  /// Slots in front of code 0 in the encoders' arrays: slot(code) = code + kFront.
  static constexpr size_t kFront = 2;

  /// Codes of another operator's dictionary: `values[code]` is the value of each.
  void Adopt(std::vector<int64_t> values);
  /// Codes of raw keys while fitting, inserted into the encoder's own dictionary (missing
  /// values: -1, not inserted).
  void Insert(const int64_t* values, size_t n, int32_t* codes);
  /// The codes of saved values (code i for values[i]); a repeated value or the missing key
  /// is an error naming `op`.
  void Assign(const std::vector<int64_t>& values, const char* op);
  /// Codes of values to transform: -1 missing, kUnseen for a value without a code.
  void Find(const int64_t* values, size_t n, int32_t* codes) const;

  size_t size() const { return adopted_ ? adopted_values_.size() : dictionary_.size(); }
  /// The value of each code.
  const std::vector<int64_t>& values() const {
    return adopted_ ? adopted_values_ : dictionary_.values();
  }

 private:
  bool adopted_ = false;
  std::vector<int64_t> adopted_values_;
  ValueDictionary dictionary_;  // own codes (Insert, Assign)
  // Adopted codes are looked up by value only when something transforms raw keys in the
  // process that fitted (the ETL itself never does): built on first use.
  mutable std::mutex lookup_mutex_;
  mutable std::unique_ptr<ValueDictionary> lookup_;
};

/// What count_encode and frequency_encode share: a count of each value's train rows (missing
/// values not counted) and of the train rows, saved as the fitted state. They differ only in
/// what they write for a count (FromCount).
template <typename OptionsT>
class CountingEncoder : public OperatorWithOptions<OptionsT> {
 public:
  ColumnKind kind() const override { return ColumnKind::kCategorical; }
  ColumnKind output_kind() const override { return ColumnKind::kDense; }
  bool needs_fit() const override { return true; }
  void FitCategorical(const int64_t* values, size_t n) override;
  void FinishFit() override;
  void TransformIdsToDense(const int64_t* values, size_t n, double* out) const override;
  bool fits_codes() const override { return true; }
  void BeginCodes(std::vector<int64_t> values) override;
  void FitCodes(const int32_t* codes, const float* labels, const int32_t* folds, size_t n) override;
  void TransformCodes(const int32_t* codes, const int32_t* folds, size_t n,
                      double* out) const override;
  nlohmann::json SaveState() const override;
  void LoadState(const nlohmann::json& state) override;

 protected:
  /// The feature of a value with `count` train rows (0: unseen or missing).
  virtual double FromCount(int64_t count) const = 0;
  int64_t rows_ = 0;  // train rows seen, missing values included

 private:
  EncoderCodes codes_;
  std::vector<int64_t> counts_;  // train rows by slot
  std::vector<double> encoded_;  // after fit: FromCount by slot
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

 protected:
  double FromCount(int64_t count) const override;
};

struct FrequencyEncodeOptions {
  template <typename V>
  void Visit(V&) {}
};

/// A value's share of the train rows, in [0, 1] (0 unseen or missing).
class FrequencyEncode final : public CountingEncoder<FrequencyEncodeOptions> {
 public:
  const char* name() const override { return "frequency_encode"; }

 protected:
  double FromCount(int64_t count) const override;
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
  bool fits_codes() const override { return true; }
  void BeginCodes(std::vector<int64_t> values) override;
  void FitCodes(const int32_t* codes, const float* labels, const int32_t* folds, size_t n) override;
  void TransformCodes(const int32_t* codes, const int32_t* folds, size_t n,
                      double* out) const override;
  nlohmann::json SaveState() const override;
  void LoadState(const nlohmann::json& state) override;

 private:
  double Smoothed(double sum, double count, double prior) const;
  size_t folds() const { return static_cast<size_t>(options_.folds); }
  // Doubles per slot in stats_.
  size_t width() const { return 2 * folds(); }
  // A slot's total label sum (which 0) or row count (which 1), fitted or loaded.
  double TotalOf(size_t slot, size_t which) const {
    return 2 * slot + which < totals_.size() ? totals_[2 * slot + which] : 0.0;
  }

  EncoderCodes codes_;
  // While fitting: per slot, the label sum of each fold and then the row count of each fold,
  // width() doubles side by side, so that a row's statistics share cache lines.
  std::vector<double> stats_;
  std::vector<double> fold_sums_;  // every value's, per fold
  std::vector<int64_t> fold_counts_;
  // After fit: per slot its label sum and row count (also what a state loads, when it lists
  // them), its full-train encoding, and (in the process that fitted) a train row's encoding
  // in each fold; the prior and each fold's prior (the mean of the other folds' rows).
  std::vector<double> totals_;
  std::vector<double> encoded_;
  std::vector<double> out_of_fold_;
  double prior_ = 0.0;
  std::vector<double> fold_priors_;
  // A loaded state of encodings: whether it lists missing values.
  bool missing_listed_ = false;
};

}  // namespace aiok::etl
