#include "aiok/cli/etl_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <memory>

#include "aiok/cli/cli_common.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/progress.h"
#include "aiok/data/dataset.h"
#include "aiok/etl/etl_runner.h"
#include "aiok/etl/operator.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::cli {
namespace {

struct EtlState {
  CommonFlags common;
  std::string preset;
  std::string schema_file;
  std::string label;
  std::string task = "auto";
  std::string positive;
  std::string pipeline_file;
  int64_t freq_threshold = 3;
  std::string on_error = "fail";
  std::string prepare_only;
  int64_t memory_mb = 0;  // 0: etl::DefaultEtlMemoryBudget()
  bool list_presets = false;
  bool list_operators = false;
  etl::EtlRequest options;  // input, output, split and shard rows as the flags set them
};

// Every operator a pipeline step can name: what it reads and writes, whether it is fitted
// (and on the labels), and its options as YAML keys.
std::string OperatorListing() {
  etl::OperatorRegistry registry;
  etl::RegisterBuiltinOperators(registry);
  auto kind = [](etl::ColumnKind k) {
    return k == etl::ColumnKind::kDense ? "dense values" : "categorical values";
  };
  std::string out = "Operators (pipeline steps: ops: [{NAME: {OPTION: VALUE}}]):\n";
  for (const std::string& name : registry.Names()) {
    const std::unique_ptr<etl::Operator> op = registry.CreateDefault(name);
    const std::string reads =
        op->inputs() == etl::Operator::kManyInputs
            ? "2+ columns (read as categorical keys; a step with inputs: and output:)"
            : kind(op->kind());
    const std::string fitted = !op->needs_fit()    ? "needs no fit"
                               : op->out_of_fold() ? "fitted on train rows and labels; "
                                                     "train rows encoded out of fold"
                               : op->uses_labels() ? "fitted on train rows and labels"
                                                   : "fitted on train rows";
    out += fmt::format("\n{}: reads {}, writes {}; {}\n", name, reads, kind(op->output_kind()),
                       fitted);
    OptionListing listing("");
    op->VisitOptions(listing);
    out += listing.text();
  }
  etl::PrepareRegistry steps;
  etl::RegisterPrepareSteps(steps);
  out +=
      "\nPrepare steps (pipeline prepare: [{NAME: {OPTION: VALUE}}], run in order by DuckDB over "
      "the whole input before the column steps, which read the prepared table):\n";
  for (const std::string& name : steps.Names()) {
    const std::unique_ptr<etl::PrepareStep> step = steps.CreateDefault(name);
    const char* serving = step->serving() == etl::PrepareServing::kLookup
                              ? "at serving: a lookup by key"
                          : step->serving() == etl::PrepareServing::kRequestFields
                              ? "at serving: the request carries its fields"
                          : step->serving() == etl::PrepareServing::kComputed
                              ? "at serving: computed from the request's rows"
                              : "not run at serving (it changes rows)";
    out += fmt::format("\n{}: {}; {}\n", name, step->summary(), serving);
    OptionListing listing("");
    etl::PlainOptionAdapter adapter(&listing);
    step->VisitOptions(adapter);
    out += listing.text();
  }
  return out;
}

void RunEtl(EtlState& state, CLI::App* command) {
  if (state.list_operators) {
    fmt::print("{}", OperatorListing());
    return;
  }
  if (state.list_presets) {
    for (const std::string& name : etl::PresetNames())
      fmt::print("{:<12} {}\n", name, etl::PresetDescription(name));
    return;
  }
  AIOK_CHECK(!state.options.input.empty() &&
                 (!state.options.out_dir.empty() || !state.prepare_only.empty()),
             ErrorKind::kUsage, "aiok etl needs --input FILE and --out DIR");
  // The dataset directory is replaced as a whole: it must not hold (or be) what it is made of.
  CheckOutputKeepsInput(state.options.input, "--input", state.options.out_dir, "--out");
  CheckOutputKeepsInput(state.schema_file, "--schema", state.options.out_dir, "--out");
  CheckOutputKeepsInput(state.pipeline_file, "--pipeline", state.options.out_dir, "--out");
  const RunContext ctx = StartRun(state.common);
  AIOK_CHECK(
      state.pipeline_file.empty() || command->count("--freq-threshold") == 0, ErrorKind::kUsage,
      "--freq-threshold goes with --preset; set freq_threshold in {} instead", state.pipeline_file);
  etl::EtlRequest request;
  request.input = state.options.input;
  request.out_dir = state.options.out_dir;
  request.schema_file = state.schema_file;
  request.label = state.label;
  request.task = state.task;
  request.positive = state.positive;
  request.pipeline_file = state.pipeline_file;
  request.preset = state.preset;
  request.freq_threshold = state.freq_threshold;
  request.on_error = data::ParseOnError(state.on_error);
  request.split_rule = state.options.split_rule;
  request.shard_rows = state.options.shard_rows;
  request.memory_budget = state.memory_mb << 20;
  request.prepare_only = state.prepare_only;
  if (!state.prepare_only.empty()) {
    CheckOutputKeepsInput(state.options.input, "--input", state.prepare_only, "--prepare-only");
    const etl::EtlSummary summary = etl::RunEtl(request, ctx).summary;
    fmt::print("etl: prepared {} rows from {} records ({} rejected) -> {}\n", summary.rows,
               summary.lines, summary.rejected, state.prepare_only);
    return;
  }
  const etl::EtlSummary summary = etl::RunEtl(request, ctx).summary;
  const data::DatasetSchema dataset = data::ReadDatasetSchema(state.options.out_dir);
  fmt::print(
      "etl: {} rows ({} rejected{}) in {} ({} rows/s) -> {}; "
      "train {} / valid {} / test {} rows\n",
      summary.rows, summary.rejected,
      summary.rejected > 0 ? ", see " + state.options.out_dir + "/rejects.tsv" : "",
      HumanSeconds(summary.seconds),
      HumanCount(static_cast<double>(summary.rows) / std::max(summary.seconds, 1e-9)),
      state.options.out_dir, dataset.split("train").rows, dataset.split("valid").rows,
      dataset.split("test").rows);
}

}  // namespace

void AddEtlCommand(CLI::App& app) {
  auto state = std::make_shared<EtlState>();
  auto* command = app.add_subcommand(
      "etl", "Fit a feature pipeline on the train split and write a dataset directory");
  command->add_option("--input", state->options.input,
                      "CSV/TSV (with or without a header) or Parquet file; Criteo's layout is "
                      "recognised; required");
  command
      ->add_option("--schema", state->schema_file,
                   "schema YAML (aiok schema infer FILE > s.yaml, then edit); default: inferred")
      ->check(CLI::ExistingFile);
  command->add_option("--label", state->label,
                      "the label field of an inferred schema (default: label, y, target, click)");
  command
      ->add_option("--task", state->task,
                   "auto (binary for a two-valued label, else regression), binary or regression")
      ->check(CLI::IsMember({"auto", "binary", "regression"}))
      ->capture_default_str();
  command->add_option("--positive", state->positive,
                      "binary task: the label value that means 1 (default: 1, yes, true, or the "
                      "larger value)");
  command->add_option("--out", state->options.out_dir, "dataset directory to write; required");
  command->add_flag("--list-presets", state->list_presets,
                    "list the pipeline presets shipped with aiok, then exit");
  command->add_flag("--list-operators", state->list_operators,
                    "list the pipeline operators, what they read and write, and their options");
  auto* preset = command
                     ->add_option("--preset", state->preset,
                                  "built-in pipeline (default: criteo on Criteo's layout, else "
                                  "the fields' default chains)")
                     ->check(CLI::IsMember(etl::PresetNames()));
  command->add_option("--pipeline", state->pipeline_file, "pipeline YAML or JSON file")
      ->excludes(preset)
      ->check(CLI::ExistingFile);
  command
      ->add_option("--freq-threshold", state->freq_threshold,
                   "values seen fewer times in train map to the rare id (criteo preset and the "
                   "default categorify chains)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  command
      ->add_option("--on-error", state->on_error,
                   "bad lines: fail (stop, naming the line) or skip (write DIR/rejects.tsv)")
      ->check(CLI::IsMember({"fail", "skip"}))
      ->capture_default_str();
  command
      ->add_option("--split", state->options.split_rule,
                   "train/valid/test: kaggle (by position: days 0-5 / 6a / 6b), "
                   "fractions:T,V (by position, e.g. fractions:0.8,0.1), random:T,V[,SEED] "
                   "(each row drawn on its own, e.g. random:0.8,0.1,42) or "
                   "time:FIELD[:FORMAT]:A,B (by each row's time in FIELD: cut dates, e.g. "
                   "time:ts:2014-10-28,2014-10-30, or fractions of the time range, e.g. "
                   "time:hour:yymmddhh:0.8,0.1; FORMAT epoch (default) or yymmddhh)")
      ->capture_default_str();
  command->add_option("--shard-rows", state->options.shard_rows, "rows per shard file")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  command
      ->add_option("--memory-mb", state->memory_mb,
                   "MB of encoded rows kept in memory between the two passes; the rest is "
                   "spilled to a file in the output directory (default: a quarter of "
                   "physical memory, at most 2048)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  command->add_option("--prepare-only", state->prepare_only,
                      "run only the pipeline's prepare steps and write the prepared table to "
                      "FILE (.parquet, or .jsonl: one JSON object per row); no dataset");
  AddCommonFlags(command, &state->common);
  command->callback([state, command] { RunEtl(*state, command); });
}

}  // namespace aiok::cli
