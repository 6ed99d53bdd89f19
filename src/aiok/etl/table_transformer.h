// A fitted pipeline applied to typed column batches of any schema (data/table_batch.h): the
// transform from raw rows to model features that predict, serve and the run's bundle
// evaluation use. The ETL computes the same features with its encoder (table_encoder.h);
// tests hold the two to the same output.
//
// Where each field goes is the FieldBinding's (field_binding.h), shared with the ETL's encoder.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/data/feature_batch.h"
#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/field_binding.h"
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


/// `spec` completed with a default chain for every dense and categorical field it leaves out:
/// dense: fill_missing (median) then normalize (standard); categorical and lists: categorify
/// (`freq_threshold`). Steps naming a field the schema lacks are refused with the closest
/// names.
PipelineSpec CompletePipeline(const PipelineSpec& spec, const data::TableSchema& schema,
                              int64_t freq_threshold, const std::string& source);


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
  FieldBinding binding_;
};

}  // namespace aiok::etl
