// `aiok etl` on a table of any schema (CSV/TSV of any shape, Parquet): fit a pipeline on the
// train split, transform every split, write a dataset directory (data/dataset.h) with every
// output field's role and cardinality, list fields as offsets + values.
//
// Pass 1 reads the input (text or Parquet, data/parquet_table_reader.h), keeps its typed
// batches while they fit the memory budget, counts the records and sees the label's values
// (which decide the task and the label mapping). The splits follow from the record count.
// The fit then walks the train rows (phase by phase, as the pipeline needs), and pass 2
// transforms every row with etl/table_transformer.h — the transform predict and serve use —
// and writes each shard once. Batches that did not fit the budget are read again instead.
//
// The Criteo preset on Criteo's layout has its own tuned path (criteo_etl.h) that writes
// the same dataset format.
#pragma once

#include <cstdint>
#include <string>

#include "aiok/core/context.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/etl/criteo_etl.h"
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
  /// Bytes of parsed input kept in memory between the passes (0: DefaultEtlMemoryBudget()).
  int64_t memory_budget = 0;
};

/// Runs the pipeline (`spec` completed by CompletePipeline). The output appears under
/// `out_dir` only when complete. Throws Error(kInvalidInput) when no row is left, or when the
/// label does not fit the task.
EtlSummary RunTableEtl(const PipelineSpec& spec, const TableEtlOptions& options,
                       const RunContext& ctx);

}  // namespace aiok::etl
