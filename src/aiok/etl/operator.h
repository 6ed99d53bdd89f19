// ETL operators: named, configured from JSON/YAML options, with two phases. Fit() gathers
// statistics from training rows and their labels (called once per batch, then FinishFit()),
// Transform() applies them to any rows — in the ETL and on raw rows at serving time. The
// fitted state saves to JSON and loads back to give identical transforms.
//
// Columns are of two kinds. Dense: doubles, NaN meaning missing. Categorical: int64 values,
// kMissingValue (-1) meaning missing on input; ids on output are >= 0 (0 = missing).
//
// An operator declares what it reads and what it writes: kind() is the kind of its input,
// output_kind() that of its output (a bucketizer reads dense values and writes ids, a target
// encoder reads ids and writes dense values), and inputs() how many columns its input is (a
// cross reads several categorical columns and writes one). What a chain's last operator
// writes is the field the model sees: a dense feature, or a categorical one with
// cardinality() ids.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/options.h"

namespace aiok::etl {

enum class ColumnKind { kDense, kCategorical };

/// A raw categorical value that is missing.
constexpr int64_t kMissingValue = -1;

class Operator {
 public:
  virtual ~Operator() = default;
  /// Registry name ("categorify").
  virtual const char* name() const = 0;
  /// The column kind the operator reads.
  virtual ColumnKind kind() const = 0;
  /// The column kind the operator writes (its input kind, unless it converts).
  virtual ColumnKind output_kind() const { return kind(); }
  /// Columns the operator reads: 1, or kManyInputs for two or more (the first operator of a
  /// step with several `inputs`). Several inputs are always categorical keys.
  static constexpr int kManyInputs = -1;
  virtual int inputs() const { return 1; }
  /// Whether Fit must see data before Transform can run.
  virtual bool needs_fit() const = 0;

  /// Accumulates statistics from a batch of training values.
  virtual void FitDense(const double* values, size_t n);
  virtual void FitCategorical(const int64_t* values, size_t n);
  /// The same with each row's label (binary 0/1 or a regression target), for operators that
  /// learn from it (target encoding); by default the labels are not looked at.
  virtual void FitDenseWithLabels(const double* values, const float* labels, size_t n) {
    FitDense(values, n);
  }
  virtual void FitCategoricalWithLabels(const int64_t* values, const float* labels, size_t n) {
    FitCategorical(values, n);
  }
  /// Whether Fit looks at the labels.
  virtual bool uses_labels() const { return false; }
  /// Operators that encode train rows out of fold (target encoding), which must come first in
  /// their chain: each train row's fold from its record number; Fit with each row's fold;
  /// and the transform of train rows, from the other folds' statistics. Valid, test and
  /// serving rows take TransformIdsToDense (every train row's statistics).
  virtual bool out_of_fold() const { return false; }
  virtual int32_t FoldOf(int64_t record) const { return 0; }
  virtual void FitCategoricalInFolds(const int64_t* values, const float* labels,
                                     const int32_t* folds, size_t n) {
    FitCategoricalWithLabels(values, labels, n);
  }
  virtual void TransformTrainRows(const int64_t* values, const int32_t* folds, size_t n,
                                  double* out) const {
    TransformIdsToDense(values, n, out);
  }
  /// Turns the accumulated statistics into the fitted state.
  virtual void FinishFit() {}

  /// Transforms values in place (dense) or into ids (categorical).
  virtual void TransformDense(double* values, size_t n) const;
  virtual void TransformCategorical(const int64_t* values, size_t n, int64_t* ids) const;
  /// Converting operators: dense values into ids, or ids into dense values.
  virtual void TransformDenseToIds(const double* values, size_t n, int64_t* ids) const;
  virtual void TransformIdsToDense(const int64_t* values, size_t n, double* out) const;
  /// Operators of several inputs: one key column per input, into one column of ids.
  virtual void TransformInputs(const std::vector<const int64_t*>& inputs, size_t n,
                               int64_t* ids) const;
  /// For categorical operators: ids are in [0, cardinality()).
  virtual int64_t cardinality() const { return 0; }

  /// Categorical operators that build a dictionary while fitting can encode rows in the same
  /// pass: FitEncode counts the first `train_rows` of `values` as Fit would and gives every
  /// value a code (-1 for missing); after FinishFit, MapCodes turns codes into ids with an
  /// array lookup instead of a hash lookup. The ETL keeps codes, not raw values, between its
  /// passes. Codes are valid only within the process that fitted.
  virtual bool supports_codes() const { return false; }
  virtual void FitEncode(const int64_t* values, size_t n, size_t train_rows, int32_t* codes);
  virtual void MapCodes(const int32_t* codes, size_t n, int32_t* ids) const;
  /// Takes back rows that FitEncode counted as training rows, by their codes: for a caller
  /// that learns where the training rows end only after it has encoded them.
  virtual void UncountCodes(const int32_t* codes, size_t n);
  /// The value each code of FitEncode stands for (indexed by code), until FinishFit.
  virtual const std::vector<int64_t>& CodeValues() const;

  /// Operators that learn one number per categorical value (count, frequency and target
  /// encoding) can learn it by the codes a dictionary operator gave the same field's rows:
  /// the ETL then stores nothing for them between its passes and looks statistics up by
  /// array index instead of hashing every key again. BeginCodes hands over the value of each
  /// code (for the saved state); FitCodes fits train rows by code (-1 missing) with their
  /// labels and, for out_of_fold(), folds (else nullptr). After FinishFit, TransformCodes
  /// writes each row's feature: a row with folds[i] >= 0 is a train row encoded out of fold,
  /// every other row (folds nullptr, or -1) takes every train row's statistics.
  virtual bool fits_codes() const { return false; }
  virtual void BeginCodes(std::vector<int64_t> values);
  virtual void FitCodes(const int32_t* codes, const float* labels, const int32_t* folds, size_t n);
  virtual void TransformCodes(const int32_t* codes, const int32_t* folds, size_t n,
                              double* out) const;

  /// The options as JSON (what the pipeline file said, with defaults filled in).
  virtual nlohmann::json Options() = 0;
  /// Walks the declared options (names, defaults, bounds, help): `aiok etl --list-operators`.
  virtual void VisitOptions(OptionVisitor& visitor) = 0;
  /// The fitted state as JSON, and back. Loading a state makes the operator fitted.
  virtual nlohmann::json SaveState() const { return nlohmann::json::object(); }
  virtual void LoadState(const nlohmann::json& state) {}
};

/// Creates operators by name from their JSON options.
class OperatorRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Operator>(const nlohmann::json& options,
                                                          const std::string& where)>;
  /// An operator with every option at its default, unchecked (some need one set to run):
  /// for listings.
  using Prototype = std::function<std::unique_ptr<Operator>()>;
  void Register(const std::string& name, Factory factory, Prototype prototype);
  /// `where` names the place in the pipeline for error messages. An unknown name throws
  /// Error(kConfig) listing the valid names.
  std::unique_ptr<Operator> Create(const std::string& name, const nlohmann::json& options,
                                   const std::string& where) const;
  std::vector<std::string> Names() const;
  /// The operator `name` (which must be registered) at its defaults, unchecked.
  std::unique_ptr<Operator> CreateDefault(const std::string& name) const;

 private:
  std::map<std::string, Factory> factories_;
  std::map<std::string, Prototype> prototypes_;
};

/// Registers every operator aiok ships (fill_missing, clip, log1p, normalize, categorify,
/// hash_bucket, bucketize, hashed_cross, count_encode, frequency_encode, target_encode,
/// datetime_parts).
void RegisterBuiltinOperators(OperatorRegistry& registry);

}  // namespace aiok::etl
