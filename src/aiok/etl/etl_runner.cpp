#include "aiok/etl/etl_runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "aiok/core/atomic_file.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/schema_inference.h"
#include "aiok/etl/batch_store.h"
#include "aiok/etl/etl_source.h"
#include "aiok/etl/prepare_runner.h"
#include "aiok/etl/prepare_table_loader.h"
#include "aiok/etl/table_etl.h"

namespace aiok::etl {
namespace fs = std::filesystem;
namespace {

// The schema the ETL reads the prepared table with: the user's (which describes the prepared
// table; the prepare stage read the input's fields it names with its types), or inferred from
// the prepared table with the prepare steps' roles (histories are sequences, a sampling weight
// a weight) and the input's text format, so that predict reads files written like the input.
// A field that passed through the steps unchanged keeps the type the input was read with:
// Parquet stores a hex id as an integer, and serving must parse the raw "68fd1e64" as hex.
data::TableSchema PreparedSchema(const EtlRequest& request, const PrepareResult& prepared,
                                 const data::TableSchema* given, const RunContext& ctx) {
  data::InferOptions infer;
  infer.label = request.label;
  infer.threads = ctx.threads;
  data::TableSchema inferred = data::InferSchema(prepared.prepared, infer);
  if (given) {
    std::vector<std::string> missing;
    for (const data::Field& field : given->fields) {
      if (field.role != data::FieldRole::kIgnored && inferred.Find(field.name) < 0)
        missing.push_back(field.name);
    }
    AIOK_CHECK(missing.empty(), ErrorKind::kConfig,
               "{}: with prepare steps, --schema describes the prepared table (the input after "
               "the prepare steps), whose columns are {}; the schema's field(s) {} are not among "
               "them",
               request.schema_file, fmt::join(inferred.Names(), ", "), fmt::join(missing, ", "));
    return *given;
  }
  const auto& outputs = prepared.outputs;
  for (data::Field& field : inferred.fields) {
    const int input = prepared.input_schema.Find(field.name);
    if (input >= 0 && std::find(outputs.begin(), outputs.end(), field.name) == outputs.end()) {
      const data::FieldType& read = prepared.input_schema.fields[static_cast<size_t>(input)].type;
      if (DuckTypeOf(read) == DuckTypeOf(field.type))
        field.type = read;
    }
    const auto& sequences = prepared.sequence_fields;
    if (field.type.list &&
        std::find(sequences.begin(), sequences.end(), field.name) != sequences.end()) {
      field.role = data::FieldRole::kSequence;
    }
    if (field.name == prepared.weight_field)
      field.role = data::FieldRole::kWeight;
  }
  if (!data::IsParquetFile(request.input))
    inferred.format = prepared.input_schema.format;
  inferred.Validate(prepared.prepared);
  return inferred;
}

// The truth file of the input (aiok datagen) still describes the prepared rows when no step
// changed them and no record was rejected: linked beside the prepared table for the ETL.
void KeepTruth(const std::string& input, const std::vector<std::unique_ptr<PrepareStep>>& steps,
               const PrepareResult& prepared) {
  const fs::path truth = fs::path(input).parent_path() / "truth.f32";
  const bool same_rows = std::none_of(steps.begin(), steps.end(),
                                      [](const auto& step) { return step->changes_rows(); });
  if (!same_rows || !prepared.rejects.empty() || !fs::exists(truth))
    return;
  std::error_code error;
  const fs::path beside = fs::path(prepared.prepared).parent_path() / "truth.f32";
  fs::create_hard_link(truth, beside, error);
  if (error)
    fs::copy_file(truth, beside, error);
}

// The prepared table inside a dataset directory: its splits are over this table's rows, so
// whatever evaluates a bundle on a split (aiok run) reads these rows, not the input's.
constexpr const char* kPreparedTableFile = "prepared.parquet";

// Adds the prepare stage's files to the dataset directory `dir`: the lookups serving applies
// (etl_state/prepare/), the rejects of the input, the prepared table, and the original input as
// the source.
void FinishPreparedDataset(const EtlRequest& request, const PrepareOptions& prepare,
                           const PrepareResult& prepared, const std::string& dir,
                           data::DatasetSchema* dataset) {
  if (!prepared.lookups.empty()) {
    const std::string to = dir + "/etl_state/prepare";
    fs::create_directories(to);
    const std::string from = prepare.work_dir + "/lookups";
    for (const PrepareLookup& lookup : prepared.lookups)
      fs::copy_file(from + "/" + lookup.file, to + "/" + lookup.file);
    fs::copy_file(from + "/" + kLookupManifest, to + "/" + kLookupManifest);
  }
  if (request.on_error == data::OnError::kSkip) {
    // The input's rejects first (input records and lines), then any of the prepared table's.
    std::string text = "record\tline\treason\n";
    for (const data::RejectedRecord& reject : prepared.rejects)
      text += fmt::format("{}\t{}\t{}\n", reject.record, reject.line, reject.reason);
    const std::string path = dir + "/rejects.tsv";
    if (fs::exists(path)) {
      const std::string etl = ReadFile(path);
      size_t start = etl.find('\n');
      for (size_t end; start != std::string::npos && start + 1 < etl.size(); start = end) {
        end = etl.find('\n', start + 1);
        text +=
            "prepared table: " +
            etl.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1) +
            "\n";
      }
    }
    WriteFileAtomic(path, text);
    dataset->rejected += static_cast<int64_t>(prepared.rejects.size());
  }
  nlohmann::json source = dataset->source;
  const nlohmann::json original = SourceJson(
      request.input, data::IsParquetFile(request.input) ? "parquet" : "text",
      static_cast<int64_t>(fs::file_size(request.input)), prepared.input_records, nullptr);
  // Moved, not copied: the staging directory beside the output is on the same file system and
  // is removed once the dataset is published.
  const std::string kept = dir + "/" + kPreparedTableFile;
  std::error_code error;
  fs::rename(prepared.prepared, kept, error);
  if (error)
    fs::copy_file(prepared.prepared, kept);
  nlohmann::json prepared_json = {
      {"rows", prepared.rows}, {"lookups", prepared.lookups.size()}, {"file", kPreparedTableFile}};
  if (source.contains("truth")) {
    prepared_json["truth"] = true;
    dataset->source = original;
    dataset->source["truth"] =
        fs::absolute(fs::path(request.input).parent_path() / "truth.f32").string();
  } else {
    dataset->source = original;
  }
  // The splits are over the prepared table's rows, in its order.
  dataset->source["prepared"] = prepared_json;
}

}  // namespace

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
  AIOK_CHECK(request.prepare_only.empty() || !outcome.pipeline.prepare.empty(), ErrorKind::kUsage,
             "--prepare-only needs a pipeline file with prepare: steps");
  TableEtlOptions options;
  options.input = request.input;
  options.out_dir = request.out_dir;
  options.on_error = request.on_error;
  options.shard_rows = request.shard_rows;
  options.split_rule = request.split_rule;
  options.task = request.task;
  options.positive = request.positive;
  options.freq_threshold = request.freq_threshold;
  options.memory_budget = request.memory_budget;
  options.range_bytes = request.range_bytes;

  // The prepare stage works in a directory beside the output, removed when the ETL is done
  // (or failed); a killed run's is removed by the next run for the same output.
  std::optional<StagingDirectory> work;
  PrepareOptions prepare;
  PrepareResult prepared;
  if (!outcome.pipeline.prepare.empty()) {
    const std::vector<std::unique_ptr<PrepareStep>> steps =
        BuildPrepareSteps(outcome.pipeline.prepare, request.pipeline_file);
    std::optional<data::TableSchema> given;
    if (!request.schema_file.empty()) {
      AIOK_CHECK(request.label.empty(), ErrorKind::kUsage,
                 "--label goes with an inferred schema; give the label role in {} instead",
                 request.schema_file);
      given = data::TableSchema::Load(request.schema_file);
    }
    const std::string base = request.out_dir.empty() ? request.prepare_only : request.out_dir;
    work.emplace(base + ".prepare");
    prepare.input = request.input;
    prepare.source = request.pipeline_file;
    prepare.relative_to = fs::path(request.pipeline_file).parent_path().string();
    prepare.on_error = request.on_error;
    prepare.split_rule = request.split_rule;
    prepare.label = request.label;
    prepare.memory_budget =
        request.memory_budget > 0 ? request.memory_budget : DefaultEtlMemoryBudget();
    prepare.work_dir = work->path();
    prepare.schema = given ? &*given : nullptr;
    prepared = RunPrepare(outcome.pipeline.prepare, prepare, ctx);
    outcome.prepared_rows = prepared.rows;
    if (!prepared.split_rule.empty())
      options.split_rule = prepared.split_rule;
    if (!request.prepare_only.empty()) {
      ExportPrepared(prepared, request.prepare_only, ctx.threads);
      outcome.summary.lines = prepared.input_records;
      outcome.summary.rows = prepared.rows;
      outcome.summary.rejected = static_cast<int64_t>(prepared.rejects.size());
      return outcome;
    }
    KeepTruth(request.input, steps, prepared);
    outcome.schema = PreparedSchema(request, prepared, given ? &*given : nullptr, ctx);
    outcome.inferred = request.schema_file.empty();
    options.input = prepared.prepared;
    options.before_publish = [&](const std::string& dir, data::DatasetSchema* dataset) {
      FinishPreparedDataset(request, prepare, prepared, dir, dataset);
    };
  } else if (!request.schema_file.empty()) {
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
  options.schema = outcome.schema;
  outcome.summary = RunTableEtl(outcome.pipeline, options, ctx);
  outcome.summary.rejected += static_cast<int64_t>(prepared.rejects.size());
  return outcome;
}

}  // namespace aiok::etl
