#include "aiok/cli/dataset_command.h"

#include <fmt/format.h>

#include <memory>

#include "aiok/cli/cli_common.h"
#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/data/dataset.h"
#include "aiok/data/dataset_export.h"

namespace aiok::cli {
namespace {

struct DatasetState {
  CommonFlags common;
  std::string dir;
  std::string split = "train";
  int64_t rows = 10;
  bool json = false;
  bool header = true;
  std::string format = "tsv";
  std::string out;
};

void PrintInfo(const DatasetState& state) {
  const data::DatasetSchema schema = data::ReadDatasetSchema(state.dir);
  if (state.json) {
    fmt::print("{}\n", ReadFile(state.dir + "/schema.json"));
    return;
  }
  fmt::print("dataset {}\n", state.dir);
  fmt::print("  source    {} ({}, {} lines, {} bytes, modified {})\n",
             schema.source.value("path", "?"), schema.source.value("format", "?"),
             schema.source.value("lines", int64_t{0}), schema.source.value("bytes", int64_t{0}),
             schema.source.value("mtime", "?"));
  fmt::print("  rejected  {} lines\n", schema.rejected);
  for (const auto& split : schema.splits) {
    fmt::print("  {:<6}    {} rows in {} shard(s), source lines [{}, {}){}\n", split.name,
               split.rows, split.shards.size(), split.lines.begin, split.lines.end,
               split.truth_file.empty() ? "" : ", true probabilities known");
  }
  const data::FeatureLayout& features = schema.features;
  fmt::print("  task      {} (label {})\n", data::TaskName(features.task),
             schema.label_type() == data::LabelType::kUInt8 ? "uint8" : "float32");
  fmt::print("  columns   {} dense (float32), {} categorical (int32 ids), {} list/sequence{}\n",
             features.dense.size(), features.categorical.size(), features.jagged.size(),
             features.has_weight ? ", a sample weight" : "");
  std::string cards;
  for (const auto& field : features.categorical)
    cards += fmt::format("{}{}={}", cards.empty() ? "" : " ", field.name, field.cardinality);
  for (const auto& field : features.jagged) {
    cards += fmt::format("{}{}={} ({}, up to {})", cards.empty() ? "" : " ", field.name,
                         field.cardinality, data::JaggedKindName(field.kind), field.max_length);
  }
  fmt::print("  cardinalities {}\n", cards);
}

}  // namespace

void AddDatasetCommand(CLI::App& app) {
  auto* dataset = app.add_subcommand("dataset", "Inspect or export a dataset directory");
  dataset->require_subcommand(1);
  auto state = std::make_shared<DatasetState>();

  auto* info = dataset->add_subcommand("info", "Summarize a dataset directory");
  info->add_option("dir", state->dir, "dataset directory")->required();
  info->add_flag("--json", state->json, "print schema.json as it is");
  AddCommonFlags(info, &state->common);
  info->callback([state] {
    StartRun(state->common);
    PrintInfo(*state);
  });

  auto* head = dataset->add_subcommand("head", "Print the first transformed rows of a split");
  head->add_option("dir", state->dir, "dataset directory")->required();
  head->add_option("--split", state->split, "train, valid or test")
      ->check(CLI::IsMember(data::SplitNames()))
      ->capture_default_str();
  head->add_option("-n,--rows", state->rows, "rows to print")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  head->add_flag("--header,!--no-header", state->header, "print a line of column names first");
  AddCommonFlags(head, &state->common);
  head->callback([state] {
    StartRun(state->common);
    data::WriteSplitTsv(state->dir, state->split, state->rows, state->header,
                        [](const std::string& text) { fmt::print("{}", text); });
  });

  auto* export_command = dataset->add_subcommand("export", "Write a split to a file");
  export_command->add_option("dir", state->dir, "dataset directory")->required();
  export_command->add_option("--split", state->split, "train, valid or test")
      ->check(CLI::IsMember(data::SplitNames()))
      ->capture_default_str();
  export_command->add_option("--format", state->format, "output format")
      ->check(CLI::IsMember({"tsv", "parquet"}))
      ->capture_default_str();
  export_command->add_option("--out", state->out, "file to write")->required();
  export_command->add_flag("--header,!--no-header", state->header,
                           "tsv: write a line of column names first");
  AddCommonFlags(export_command, &state->common);
  export_command->callback([state] {
    CheckOutputKeepsInput(state->dir, "dataset", state->out, "--out");
    const RunContext ctx = StartRun(state->common);
    const int64_t rows = data::ExportSplit(state->dir, state->split, state->format, state->out,
                                           state->header, ctx.threads);
    fmt::print("dataset export: {} rows of {} -> {} ({})\n", rows, state->split, state->out,
               state->format);
  });
}

}  // namespace aiok::cli
