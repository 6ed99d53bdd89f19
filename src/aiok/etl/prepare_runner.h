// Runs a pipeline's `prepare:` steps (etl/prepare_step.h) with DuckDB: the input is loaded
// through aiok's readers (etl/prepare_table_loader.h), each step makes the next table, and the
// prepared table is written as Parquet in its order — the file the column ETL then reads.
// DuckDB's memory_limit is the ETL's memory budget and its temp_directory lies in the staging
// directory, so large joins and sorts spill there. Steps that serving applies as lookups (join,
// groupby_aggregate) leave Parquet files of their keys and values beside it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/pipeline.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::etl {

struct PrepareOptions {
  std::string input;        ///< CSV/TSV or Parquet
  std::string source;       ///< names the pipeline in messages ("p.yaml")
  std::string relative_to;  ///< directory of relative side-table paths ("": working dir)
  data::OnError on_error = data::OnError::kFail;
  std::string split_rule = "kaggle";
  std::string label;          ///< the --label field ("": a field named like a label, if any)
  int64_t memory_budget = 0;  ///< bytes (> 0)
  std::string work_dir;       ///< an existing directory for DuckDB's spill files and outputs
  /// The user's schema (--schema; null: inferred): the input is read with its text format and
  /// with its type for each field it names, and its label and weight are the targets.
  const data::TableSchema* schema = nullptr;
};

struct PrepareResult {
  std::string prepared;            ///< work_dir/prepared.parquet
  data::TableSchema input_schema;  ///< the input as read (inferred, typed by options.schema)
  int64_t input_records = 0;
  int64_t rows = 0;  ///< rows of the prepared table
  /// Input records rejected under --on-error skip (by the reader, or a time value a step
  /// could not parse), with their input record and line numbers.
  std::vector<data::RejectedRecord> rejects;
  std::vector<PrepareLookup> lookups;        ///< files in work_dir/lookups/
  std::vector<std::string> sequence_fields;  ///< fields to give role sequence
  std::string weight_field;                  ///< a sampled table's weight ("" none)
  std::vector<std::string> outputs;          ///< every field a step wrote, in step order
  /// A time split whose fractions a step fixed as cut dates: the rule with those dates, for
  /// the ETL to cut the same rows ("" otherwise).
  std::string split_rule;
};

/// Checks `steps` (names, options, order) without running them; errors (kConfig) name the
/// step. groupby_aggregate must come after every step that changes rows.
std::vector<std::unique_ptr<PrepareStep>> BuildPrepareSteps(const std::vector<OperatorSpec>& steps,
                                                            const std::string& source);

/// Runs the steps over options.input and writes the prepared table.
PrepareResult RunPrepare(const std::vector<OperatorSpec>& steps, const PrepareOptions& options,
                         const RunContext& ctx);

/// Writes the prepared table of `result` to `path` as Parquet, or as JSON lines when `path`
/// ends in .jsonl (one object per row; for inspection and tests).
void ExportPrepared(const PrepareResult& result, const std::string& path, int threads);

/// The lookups' manifest, written beside their files for serving.
constexpr const char* kLookupManifest = "lookups.json";

}  // namespace aiok::etl
