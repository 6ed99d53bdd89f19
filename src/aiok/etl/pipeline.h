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
//
// Every column of the input layout is covered by exactly one step. A dense column's chain
// must fill missing values (the model cannot take NaN); a categorical column's chain is one
// operator that makes ids (categorify or hash_bucket). Fitting uses the train split only.
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
  std::vector<std::string> columns;
  std::vector<OperatorSpec> ops;
};

struct PipelineSpec {
  std::vector<PipelineStep> steps;

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

/// One column's operators, in order.
struct ColumnChain {
  std::string column;
  ColumnKind kind = ColumnKind::kDense;
  std::vector<std::unique_ptr<Operator>> ops;

  /// Number of operators that need fitting.
  int FitPhases() const;
  /// The index in `ops` of the operator fitted in fit phase `phase` (the phase-th operator
  /// that needs fitting), if the chain has one.
  std::optional<size_t> FitOperatorOfPhase(int phase) const;
  /// Applies ops[0, end) to dense values in place.
  void TransformDensePrefix(double* values, size_t n, size_t end) const;
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
};

}  // namespace aiok::etl
