#include "aiok/etl/etl_runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/data/schema_inference.h"
#include "aiok/etl/table_etl.h"

namespace aiok::etl {

bool IsCriteoLayout(const data::TableSchema& schema) {
  return schema.Names() == data::CriteoTableSchema(true).Names();
}

EtlOutcome RunEtl(const EtlRequest& request, const RunContext& ctx) {
  EtlOutcome outcome;
  if (!request.pipeline_file.empty()) {
    AIOK_CHECK(request.preset.empty(), ErrorKind::kUsage,
               "a pipeline file and a preset do not go together; give one of them");
    outcome.pipeline =
        PipelineSpec::FromJson(LoadConfigFile(request.pipeline_file), request.pipeline_file);
  }
  if (!request.schema_file.empty()) {
    AIOK_CHECK(request.label.empty(), ErrorKind::kUsage,
               "--label goes with an inferred schema; give the label role in {} instead",
               request.schema_file);
    outcome.schema = data::TableSchema::Load(request.schema_file);
  } else {
    data::InferOptions infer;
    infer.label = request.label;
    infer.threads = ctx.threads;
    outcome.schema = data::InferSchema(request.input, infer);
    outcome.inferred = true;
  }
  if (!request.preset.empty()) {
    outcome.pipeline = LoadPreset(request.preset, request.freq_threshold);
  } else if (request.pipeline_file.empty() && IsCriteoLayout(outcome.schema)) {
    outcome.pipeline = CriteoPreset(request.freq_threshold);
  }
  TableEtlOptions options;
  options.input = request.input;
  options.out_dir = request.out_dir;
  options.schema = outcome.schema;
  options.on_error = request.on_error;
  options.shard_rows = request.shard_rows;
  options.split_rule = request.split_rule;
  options.task = request.task;
  options.positive = request.positive;
  options.freq_threshold = request.freq_threshold;
  options.memory_budget = request.memory_budget;
  options.range_bytes = request.range_bytes;
  outcome.summary = RunTableEtl(outcome.pipeline, options, ctx);
  return outcome;
}

}  // namespace aiok::etl
