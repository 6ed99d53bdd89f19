// The bundle's fitted ETL as a serving step: raw rows of the bundle's input schema (read from
// a file, or taken from a JSON request) become the FeatureBatches the model was trained on,
// through etl::TableTransformer — the same transform the ETL's second pass ran. Torch-free.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "aiok/data/feature_batch.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/pipeline.h"
#include "aiok/etl/prepare_serving.h"
#include "aiok/etl/table_transformer.h"
#include "aiok/serving/bundle.h"

namespace aiok::serving {

class ServingPipeline {
 public:
  /// Builds the fitted pipeline from the bundle's pipeline.json and input schema; errors
  /// (kInvalidInput) name the bundle's files.
  explicit ServingPipeline(const Bundle& bundle);

  /// The schema the model's data was read with (the label field included).
  const data::TableSchema& input_schema() const { return schema_; }
  /// The schema of rows to score: the input schema without its label and weight fields, or,
  /// `with_label`, with them kept but not read (a file that still has its label column).
  /// Fields the prepare stage looks up (join, groupby_aggregate) or computes (sql) are never
  /// read: Transform fills them from the row's other fields.
  data::TableSchema RowSchema(bool with_label) const;
  /// Which RowSchema a text file's first record fits: true when it has every input field,
  /// false when it has all but the label and weight; otherwise Error(kInvalidInput) naming
  /// `path` and both field counts. For a header, by its names; else by the field count, and
  /// under OnError::kSkip by the first record that has either count (false if none has).
  bool FileHasLabel(const std::string& path, data::OnError on_error) const;

  /// The features of `batch`, read with `read_schema` (a RowSchema). Consumes the batch.
  data::FeatureBatch Transform(data::TableBatch&& batch,
                               const data::TableSchema& read_schema) const;
  /// The rows of a JSON request: objects of named fields (lists as JSON arrays; absent, null
  /// or "" is missing) or text lines in the input's format without the label. Throws
  /// Error(kInvalidInput) naming the row (0-based) and the field.
  data::TableBatch ParseJsonRows(const nlohmann::json& rows) const;

  /// What GET /v1/metadata says about the input: fields (name, role, type), how lists and
  /// text rows are written.
  nlohmann::json InputDescription() const;
  const data::FeatureLayout& layout() const { return layout_; }

 private:
  data::TableSchema schema_;
  etl::Pipeline pipeline_;
  std::unique_ptr<etl::TableTransformer> transformer_;
  /// The prepare stage's lookups and expressions; null without such steps.
  std::unique_ptr<etl::PrepareServingSteps> prepare_;
  data::FeatureLayout layout_;
};

/// The input schema a dataset or bundle records; a dataset written before schemas were
/// recorded (Criteo's fixed layout) gets Criteo's.
data::TableSchema RecordedInputSchema(const nlohmann::json& dataset_schema,
                                      const std::string& source);

}  // namespace aiok::serving
