// A fitted pipeline applied to typed column batches of any schema (data/table_batch.h): the
// one transform from raw rows to model features, used by the ETL's second pass and by
// predict and serve, so that serving computes exactly the training features.
//
// Field roles decide where a field goes: dense fields through their chain to the dense block
// (float32), categorical fields to an id column, multi-categorical and sequence fields to
// lists of ids (each element through the field's categorical operator), the label to labels
// (through the label mapping), a weight field to weights. A timestamp field gives two
// categorical features, its hour of day and day of week in UTC ("<name>.hour", 24 values, and
// "<name>.weekday", 7; id 0 when the time is missing): when a click happens matters, the
// instant itself does not recur. Ignored fields are not model inputs.
//
// Categorical values become 64-bit keys before their operator sees them: integers as they
// are, strings by a stable 64-bit hash of their bytes. The one key that marks "missing"
// (-1) is moved to INT64_MIN, so a value of -1 (or 2^64 - 1) stays a value.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/data/feature_batch.h"
#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

/// How the source's label values become the labels a model learns.
struct LabelMapping {
  data::Task task = data::Task::kBinary;
  /// Binary task: the source value (as text) that is 1; the other is 0. Empty: the label is
  /// already 0/1.
  std::string positive;
  std::string negative;

  nlohmann::json ToJson() const;
  static LabelMapping FromJson(const nlohmann::json& json, const std::string& source);
  /// The label of row `row` of `column`; false when it is missing or not a valid label, with
  /// what was expected in *problem.
  bool Map(const data::ColumnValues& column, size_t row, float* label, std::string* problem) const;
};

/// The dense and categorical (incl. list) field names of `schema`, in schema order, as the
/// pipeline binds them.
std::vector<std::string> DenseFieldNames(const data::TableSchema& schema);
std::vector<std::string> CategoricalFieldNames(const data::TableSchema& schema);

/// `spec` completed with a default chain for every dense and categorical field it leaves out:
/// dense: fill_missing (median) then normalize (standard); categorical and lists: categorify
/// (`freq_threshold`). Steps naming a field the schema lacks are refused with the closest
/// names.
PipelineSpec CompletePipeline(const PipelineSpec& spec, const data::TableSchema& schema,
                              int64_t freq_threshold, const std::string& source);

/// 64-bit keys of a categorical column's values [begin, end) (scalars: rows; lists: elements),
/// kMissingValue where a scalar is missing.
void CategoricalKeys(const data::ColumnValues& column, size_t begin, size_t end, int64_t* keys);

/// The values of a dense column's rows [begin, end) as doubles, NaN where missing.
void DenseValues(const data::ColumnValues& column, size_t begin, size_t end, double* values);

class TableTransformer {
 public:
  /// `pipeline` must be fitted and outlive the transformer; it was bound to
  /// DenseFieldNames(schema) and CategoricalFieldNames(schema).
  TableTransformer(const data::TableSchema& schema, const Pipeline& pipeline, LabelMapping label);

  /// The layout of the batches Transform makes (cardinalities from the fitted operators).
  data::FeatureLayout Layout() const;

  /// The features of the batch's rows. With `with_labels`, labels (and weights) too: a row
  /// whose label or weight is missing or invalid throws Error(kInvalidInput) naming the row
  /// (the ETL rejects such rows before transforming them).
  data::FeatureBatch Transform(const data::TableBatch& batch, bool with_labels) const;

  const data::TableSchema& schema() const { return schema_; }

 private:
  data::TableSchema schema_;
  const Pipeline& pipeline_;
  LabelMapping label_;
  std::vector<int> dense_fields_;        // schema index per dense chain
  std::vector<int> categorical_fields_;  // schema index per scalar categorical chain
  std::vector<int> jagged_fields_;       // schema index per list chain
  std::vector<int> time_fields_;         // schema index per timestamp (hour, weekday follow)
  std::vector<const ColumnChain*> categorical_chains_;
  std::vector<const ColumnChain*> jagged_chains_;
  int label_field_ = -1;
  int weight_field_ = -1;
};

}  // namespace aiok::etl
