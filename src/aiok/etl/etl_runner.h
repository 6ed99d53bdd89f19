// One entry to the ETL for the CLI and `aiok run`: the input's schema (given, or inferred
// from the file), the pipeline (a file, a preset, or the fields' default chains), and the
// right engine — Criteo's layout with the criteo preset takes the tuned Criteo ETL
// (criteo_etl.h), every other table the schema-driven one (table_etl.h). Both write the same
// dataset format.
#pragma once

#include <cstdint>
#include <string>

#include "aiok/core/context.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/etl/criteo_etl.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

struct EtlRequest {
  std::string input;
  std::string out_dir;
  std::string schema_file;    ///< empty: inferred from the input
  std::string label;          ///< the label of an inferred schema (empty: by its name)
  std::string task = "auto";  ///< auto, binary or regression
  std::string positive;       ///< binary task: the label value meaning 1
  std::string pipeline_file;  ///< empty: the preset, or the default chains
  std::string preset;         ///< empty: criteo on Criteo's layout, else the default chains
  int64_t freq_threshold = 3;
  data::OnError on_error = data::OnError::kFail;
  std::string split_rule = "kaggle";
  int64_t shard_rows = int64_t{1} << 20;
  int64_t memory_budget = 0;  ///< bytes; 0: DefaultEtlMemoryBudget()
};

struct EtlOutcome {
  EtlSummary summary;
  data::TableSchema schema;  ///< the input schema used (inferred or given)
  bool inferred = false;
  std::string engine;        ///< "criteo" or "table"
  PipelineSpec pipeline;     ///< as given (the dataset's schema.json has it completed)
};

/// Runs the ETL. Errors: kUsage for flags that do not go together (a criteo preset on another
/// layout), kConfig for schema and pipeline files, kInvalidInput for the data.
EtlOutcome RunEtl(const EtlRequest& request, const RunContext& ctx);

/// Whether `schema` is Criteo's Kaggle layout (by field names).
bool IsCriteoLayout(const data::TableSchema& schema);

}  // namespace aiok::etl
