#include "aiok/cli/schema_command.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "aiok/cli/cli_common.h"
#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/schema_inference.h"

namespace aiok::cli {
namespace {

struct SchemaState {
  CommonFlags common;
  std::string input;
  std::string label;
  std::string schema_file;
  std::string out;
  int64_t sample_mb = 4;
  int64_t head = 0;
  std::string on_error = "fail";
};

data::TableSchema SchemaFor(const SchemaState& state, const RunContext& ctx) {
  if (!state.schema_file.empty()) {
    AIOK_CHECK(state.label.empty(), ErrorKind::kUsage,
               "--label goes with an inferred schema; give the label role in {} instead",
               state.schema_file);
    return data::TableSchema::Load(state.schema_file);
  }
  data::InferOptions options;
  options.label = state.label;
  options.sample_bytes = state.sample_mb << 20;
  options.threads = ctx.threads;
  return data::InferSchema(state.input, options);
}

// Row r of a batch as a JSON object of typed values (null for missing ones).
nlohmann::ordered_json RowJson(const data::TableSchema& schema, const data::TableBatch& batch,
                               size_t r) {
  nlohmann::ordered_json row = nlohmann::ordered_json::object();
  for (size_t f = 0; f < schema.fields.size(); ++f) {
    const data::Field& field = schema.fields[f];
    const data::ColumnValues& column = batch.columns[f];
    auto value = [&](size_t i) -> nlohmann::ordered_json {
      switch (field.type.value) {
        case data::ValueType::kInt64:
        case data::ValueType::kTimestamp:
          return column.ints[i];
        case data::ValueType::kUInt64:
          return column.uints[i];
        case data::ValueType::kFloat64:
          return std::isfinite(column.reals[i])
                     ? nlohmann::ordered_json(column.reals[i])
                     : nlohmann::ordered_json(fmt::format("{}", column.reals[i]));
        case data::ValueType::kString:
          return std::string(column.string(i));
      }
      return nullptr;
    };
    if (!column.valid[r]) {
      row[field.name] = nullptr;
    } else if (field.type.list) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (auto i = column.list_offsets[r]; i < column.list_offsets[r + 1]; ++i)
        list.push_back(value(static_cast<size_t>(i)));
      row[field.name] = list;
    } else {
      row[field.name] = value(r);
    }
  }
  return row;
}

void RunInfer(const SchemaState& state) {
  CheckOutputKeepsInput(state.input, "file", state.out, "--out");
  const RunContext ctx = StartRun(state.common);
  const data::TableSchema schema = SchemaFor(state, ctx);
  const std::string yaml =
      fmt::format("# aiok schema infer {}: edit roles and types, then pass it with --schema\n{}",
                  state.input, schema.ToYaml());
  if (state.out.empty()) {
    fmt::print("{}", yaml);
  } else {
    WriteFileAtomic(state.out, yaml);
    fmt::print(stderr, "schema: {} fields -> {}\n", schema.fields.size(), state.out);
  }
}

void RunCheck(const SchemaState& state) {
  const RunContext ctx = StartRun(state.common);
  const data::TableSchema schema = SchemaFor(state, ctx);
  data::TextReadOptions options;
  options.on_error = data::ParseOnError(state.on_error);
  int64_t shown = 0;
  std::vector<data::RejectedRecord> rejects;
  const data::TextReadSummary summary =
      data::ReadTable(state.input, schema, options, ctx, [&](data::TableBatch& batch) {
        for (int64_t r = 0; r < batch.rows && shown < state.head; ++r, ++shown)
          fmt::print("{}\n", RowJson(schema, batch, static_cast<size_t>(r)).dump());
        for (const auto& reject : batch.rejects) {
          if (rejects.size() < 20)
            rejects.push_back(reject);
        }
      });
  for (const auto& reject : rejects) {
    fmt::print(stderr, "rejected record {} (line {}): {}\n", reject.record, reject.line,
               reject.reason);
  }
  fmt::print(stderr, "schema check: {} records, {} rows read, {} rejected ({} fields)\n",
             summary.records, summary.rows, summary.rejected, schema.fields.size());
}

}  // namespace

void AddSchemaCommand(CLI::App& app) {
  auto* schema = app.add_subcommand("schema", "Infer or check the schema of a raw table");
  schema->require_subcommand(1);
  auto state = std::make_shared<SchemaState>();

  auto* infer = schema->add_subcommand(
      "infer", "Print the schema aiok infers for a CSV/TSV or Parquet file, as editable YAML");
  infer->add_option("file", state->input, "CSV, TSV or Parquet file")->required();
  infer->add_option("--label", state->label, "the label field (default: label, y, target, click)");
  infer->add_option("--out", state->out, "write the YAML to this file instead of stdout");
  infer->add_option("--sample-mb", state->sample_mb, "MB read from a text file's start")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  AddCommonFlags(infer, &state->common);
  infer->callback([state] { RunInfer(*state); });

  auto* check = schema->add_subcommand(
      "check", "Read a whole file with a schema (given or inferred): counts, rejects, rows");
  check->add_option("file", state->input, "CSV, TSV or Parquet file")->required();
  check->add_option("--schema", state->schema_file, "schema YAML or JSON (default: inferred)")
      ->check(CLI::ExistingFile);
  check->add_option("--label", state->label, "the label field of an inferred schema");
  check->add_option("--head", state->head, "print the first N rows read, one JSON object each")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  check
      ->add_option("--on-error", state->on_error,
                   "bad records: fail (stop, naming the line) or skip (count and list them)")
      ->check(CLI::IsMember({"fail", "skip"}))
      ->capture_default_str();
  AddCommonFlags(check, &state->common);
  check->callback([state] { RunCheck(*state); });
}

}  // namespace aiok::cli
