// Pipelines: which operators run on which columns, written as YAML or JSON —
//
//   steps:
//     - columns: [I1, I2, ..., I13]        # names, or "I1..I13" ranges
//       ops:
//         - fill_missing: {value: 0}
//         - clip: {min: 0}
//         - log1p: {}
//     - columns: [C1..C26]
//       ops:
//         - categorify: {freq_threshold: 3}
//     - inputs: [C1, C2]                   # a derived field from several columns
//       output: C1_x_C2
//       ops:
//         - hashed_cross: {buckets: 100000}
//     - inputs: [I1]                       # or a second feature from one column
//       output: I1.bucket
//       ops:
//         - bucketize: {quantiles: 16}
//
// Every column of the input layout is covered by exactly one `columns` step. A chain is any
// number of operators, each reading what the one before wrote (operators declare their input
// and output kinds, so dense values can become ids and ids dense values); what the last one
// writes is the feature. A chain that ends dense from dense values must fill missing values
// (the model cannot take NaN). Fitting uses the train split only, and sees its labels.
//
// An optional `prepare:` list comes first: relational and sequence steps (join, filter,
// groupby_aggregate, collapse_history, ...) run by DuckDB over the whole input before the
// column steps, which then read the prepared table (etl/prepare_step.h).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "aiok/etl/operator.h"

namespace aiok::etl {

struct OperatorSpec {
  std::string name;
  nlohmann::json options = nlohmann::json::object();
};

struct PipelineStep {
  /// A chain per column; or, for a derived step, the chain's inputs.
  std::vector<std::string> columns;
  std::vector<OperatorSpec> ops;
  /// A derived step reads all `columns` into one chain that writes the new field `output`
  /// (the source fields stay features of their own).
  bool derived = false;
  std::string output;
};

struct PipelineSpec {
  std::vector<PipelineStep> steps;
  /// The `prepare:` steps, in order: each a name and its options (checked when they run).
  std::vector<OperatorSpec> prepare;

  /// Parses the document above; `source` names it in errors (kConfig).
  static PipelineSpec FromJson(const nlohmann::json& json, const std::string& source);
  nlohmann::json ToJson() const;
};

/// The pipeline files shipped with aiok (src/aiok/etl/presets/*.yaml), by name: (name, YAML).
const std::vector<std::pair<std::string, std::string>>& BuiltinPresetTexts();

/// The shipped preset `name`, with `freq_threshold` set on its categorify steps (0: as the
/// file says). An unknown name throws Error(kConfig) listing the presets.
PipelineSpec LoadPreset(const std::string& name, int64_t freq_threshold);

/// The `criteo` preset: I1..I13 -> fill_missing(0) -> clip(min 0) -> log1p;
/// C1..C26 -> categorify(freq_threshold).
PipelineSpec CriteoPreset(int64_t freq_threshold);

/// Names of the shipped presets, and the first comment line of each file.
std::vector<std::string> PresetNames();
std::string PresetDescription(const std::string& name);

/// One column of values between a chain's operators.
struct ChainColumn {
  ColumnKind kind = ColumnKind::kDense;
  std::vector<double> dense;  ///< kDense: NaN is missing
  std::vector<int64_t> ids;   ///< kCategorical: raw keys (kMissingValue missing) or ids
};

/// One column's operators, in order (or a derived field's, over several input columns).
struct ColumnChain {
  std::string column;               ///< the field it writes
  std::vector<std::string> inputs;  ///< the fields it reads: {column}, or a derived step's
  ColumnKind kind = ColumnKind::kDense;  ///< of its input
  std::vector<std::unique_ptr<Operator>> ops;

  /// The kind of what the chain writes.
  ColumnKind output_kind() const { return ops.empty() ? kind : ops.back()->output_kind(); }
  /// Runs ops [0, end) over `inputs` (one column of n values per input field; several only
  /// when the first operator takes several) and returns what ops[end - 1] wrote (the input
  /// itself when end is 0 and there is one input).
  ChainColumn Run(std::vector<ChainColumn> inputs, size_t n, size_t end) const;
  /// Runs ops [begin, end) over `column` (what ops[begin - 1] wrote, or the input).
  ChainColumn RunFrom(ChainColumn column, size_t n, size_t begin, size_t end) const;

  /// Number of operators that need fitting.
  int FitPhases() const;
  /// The index in `ops` of the operator fitted in fit phase `phase` (the phase-th operator
  /// that needs fitting), if the chain has one.
  std::optional<size_t> FitOperatorOfPhase(int phase) const;
};

/// A pipeline bound to a layout's columns: a chain per column, in layout order.
class Pipeline {
 public:
  /// Binds `spec` to the columns named in `dense` and `categorical`; errors (kConfig) name
  /// the step and column.
  Pipeline(const PipelineSpec& spec, const std::vector<std::string>& dense,
           const std::vector<std::string>& categorical, const std::string& source);

  const PipelineSpec& spec() const { return spec_; }
  std::vector<ColumnChain>& dense() { return dense_; }
  std::vector<ColumnChain>& categorical() { return categorical_; }
  const std::vector<ColumnChain>& dense() const { return dense_; }
  const std::vector<ColumnChain>& categorical() const { return categorical_; }
  /// The chains of derived steps, in spec order.
  std::vector<ColumnChain>& derived() { return derived_; }
  const std::vector<ColumnChain>& derived() const { return derived_; }
  /// Every chain: dense fields', categorical fields', derived ones.
  std::vector<ColumnChain*> chains();
  std::vector<const ColumnChain*> chains() const;

  /// Passes over the training data that fitting needs (0 when nothing is fitted).
  int FitPhases() const;
  /// Finishes the operators that need no data (they are ready before any pass).
  void FinishFitFreeOperators();

  /// The fitted state: the spec plus each operator's options and state.
  nlohmann::json SaveState() const;
  /// Rebuilds a fitted pipeline from SaveState() output.
  static Pipeline LoadState(const nlohmann::json& state, const std::vector<std::string>& dense,
                            const std::vector<std::string>& categorical, const std::string& source);

 private:
  PipelineSpec spec_;
  std::vector<ColumnChain> dense_;
  std::vector<ColumnChain> categorical_;
  std::vector<ColumnChain> derived_;
};

}  // namespace aiok::etl
