// `aiok etl` on a table of any schema (CSV/TSV of any shape, Criteo's TSV among them, and
// Parquet): fit a pipeline on the train split, transform every split, and write a dataset
// directory (data/dataset.h) with every output field's role and cardinality, list fields as
// offsets + values.
//
// Pass 1 reads the input (text or Parquet, data/parquet_table_reader.h) and, on the reader
// threads, encodes each batch as it arrives (etl/table_encoder.h): dense values, categorical
// codes whose dictionaries are counted in the same pass, labels as read. Encoded batches wait
// in a BatchStore (in memory up to a budget, then a spill file). The read also counts the
// records, which place the splits, and sees the label's values, which decide the task and the
// label mapping. The rows past the train split are then taken out of the counts, the dense
// chains are fitted phase by phase from the stored values, and pass 2 finishes the batches
// side by side and writes each shard once, in record order.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "aiok/core/context.h"
#include "aiok/data/dataset.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

struct TableEtlOptions {
  std::string input;    ///< CSV/TSV or Parquet file
  std::string out_dir;  ///< dataset directory to write
  data::TableSchema schema;
  data::OnError on_error = data::OnError::kFail;
  int64_t shard_rows = int64_t{1} << 20;
  std::string split_rule = "kaggle";  ///< see data::SplitRule
  /// "auto": binary when the label has two distinct values, regression otherwise.
  std::string task = "auto";
  /// The label value that means 1 for a binary task whose labels are not 0/1.
  std::string positive;
  /// Frequency threshold of the default categorify chains.
  int64_t freq_threshold = 3;
  /// Bytes of encoded rows kept in memory between the passes; the rest is spilled to a file
  /// in the output directory. 0: DefaultEtlMemoryBudget().
  int64_t memory_budget = 0;
  /// Bytes of text input per parallel batch (0: the reader's default).
  int64_t range_bytes = 0;
  /// Called with the staging directory and the dataset schema just before schema.json is
  /// written: the prepare stage adds its files and describes the original input there.
  std::function<void(const std::string& dir, data::DatasetSchema* dataset)> before_publish;
};

struct EtlSummary {
  int64_t lines = 0;  ///< records read
  int64_t rows = 0;
  int64_t rejected = 0;
  int64_t input_bytes = 0;
  double seconds = 0.0;
};

/// Runs the ETL. `spec` may leave fields out: they get the default chains (CompletePipeline).
EtlSummary RunTableEtl(const PipelineSpec& spec, const TableEtlOptions& options,
                       const RunContext& ctx);

}  // namespace aiok::etl
