// One entry to the ETL for the CLI and `aiok run`: the input's schema (given, or inferred
// from the file) and the pipeline (a file, a preset, or the fields' default chains; Criteo's
// layout gets the criteo preset), then the schema-driven ETL (table_etl.h). A pipeline with
// `prepare:` steps first runs them (prepare_runner.h) and the ETL reads the prepared table.
#pragma once

#include <cstdint>
#include <string>

#include "aiok/core/context.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/etl/pipeline.h"
#include "aiok/etl/table_etl.h"

namespace aiok::etl {

struct EtlRequest {
  std::string input;
  std::string out_dir;
  std::string schema_file;    ///< empty: inferred from the input
  std::string label;          ///< the label of an inferred schema (empty: by its name)
  std::string task = "auto";  ///< auto, binary or regression
  std::string positive;       ///< binary task: the label value meaning 1
  std::string pipeline_file;  ///< empty: the preset, or the default chains
  std::string preset;         ///< a shipped pipeline (empty: criteo on Criteo's layout, else
                              ///< the default chains)
  int64_t freq_threshold = 3;
  data::OnError on_error = data::OnError::kFail;
  std::string split_rule = "kaggle";
  int64_t shard_rows = int64_t{1} << 20;
  int64_t memory_budget = 0;  ///< bytes; 0: DefaultEtlMemoryBudget()
  int64_t range_bytes = 0;    ///< text bytes per parallel batch; 0: the reader's default
  /// Run only the pipeline's prepare steps and write the prepared table here (.parquet, or
  /// .jsonl: JSON lines); no dataset is written.
  std::string prepare_only;
};

struct EtlOutcome {
  EtlSummary summary;
  data::TableSchema schema;  ///< the input schema used (inferred or given)
  bool inferred = false;
  PipelineSpec pipeline;       ///< as given (the dataset's schema.json has it completed)
  int64_t prepared_rows = -1;  ///< rows of the prepared table; -1 without prepare steps
};

/// Runs the ETL. Errors: kUsage for flags that do not go together, kConfig for schema and
/// pipeline files (a preset naming fields the input lacks), kInvalidInput for the data.
EtlOutcome RunEtl(const EtlRequest& request, const RunContext& ctx);

/// Whether `schema` is Criteo's Kaggle layout (by field names).
bool IsCriteoLayout(const data::TableSchema& schema);

}  // namespace aiok::etl
