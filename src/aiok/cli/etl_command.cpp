#include "aiok/cli/etl_command.h"

#include <fmt/format.h>

#include <memory>

#include "aiok/cli/cli_common.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/progress.h"
#include "aiok/data/dataset.h"
#include "aiok/etl/criteo_etl.h"

namespace aiok::cli {
namespace {

struct EtlState {
  CommonFlags common;
  std::string preset;
  std::string pipeline_file;
  int64_t freq_threshold = 3;
  std::string on_error = "fail";
  int64_t memory_mb = 0;  // 0: etl::DefaultEtlMemoryBudget()
  etl::EtlOptions options;
};

void RunEtl(EtlState& state, CLI::App* command) {
  const RunContext ctx = StartRun(state.common);
  state.options.on_error = data::ParseOnError(state.on_error);
  state.options.memory_budget = state.memory_mb << 20;
  etl::PipelineSpec spec;
  if (!state.pipeline_file.empty()) {
    AIOK_CHECK(command->count("--freq-threshold") == 0, ErrorKind::kUsage,
               "--freq-threshold goes with --preset; set freq_threshold in {} instead",
               state.pipeline_file);
    spec = etl::PipelineSpec::FromJson(LoadConfigFile(state.pipeline_file), state.pipeline_file);
  } else {
    spec = etl::CriteoPreset(state.freq_threshold);
  }
  const etl::EtlSummary summary = etl::RunCriteoEtl(spec, state.options, ctx);
  const data::DatasetSchema schema = data::ReadDatasetSchema(state.options.out_dir);
  fmt::print(
      "etl: {} rows ({} rejected{}) in {} ({} rows/s) -> {}; "
      "train {} / valid {} / test {} rows\n",
      summary.rows, summary.rejected,
      summary.rejected > 0 ? ", see " + state.options.out_dir + "/rejects.tsv" : "",
      HumanSeconds(summary.seconds),
      HumanCount(static_cast<double>(summary.rows) / std::max(summary.seconds, 1e-9)),
      state.options.out_dir, schema.split("train").rows, schema.split("valid").rows,
      schema.split("test").rows);
}

}  // namespace

void AddEtlCommand(CLI::App& app) {
  auto state = std::make_shared<EtlState>();
  auto* command = app.add_subcommand(
      "etl", "Fit a feature pipeline on the train split and write a dataset directory");
  command->add_option("--input", state->options.input, "Criteo TSV file (Kaggle train.txt layout)")
      ->required();
  command->add_option("--out", state->options.out_dir, "dataset directory to write")->required();
  auto* preset = command->add_option("--preset", state->preset, "built-in pipeline")
                     ->check(CLI::IsMember(etl::PresetNames()))
                     ->default_str("criteo");
  command->add_option("--pipeline", state->pipeline_file, "pipeline YAML or JSON file")
      ->excludes(preset)
      ->check(CLI::ExistingFile);
  command
      ->add_option("--freq-threshold", state->freq_threshold,
                   "criteo preset: values seen fewer times in train map to the rare id")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  command
      ->add_option("--on-error", state->on_error,
                   "bad lines: fail (stop, naming the line) or skip (write DIR/rejects.tsv)")
      ->check(CLI::IsMember({"fail", "skip"}))
      ->capture_default_str();
  command
      ->add_option("--split", state->options.split_rule,
                   "train/valid/test by position: kaggle (days 0-5 / 6a / 6b) or "
                   "fractions:T,V (e.g. fractions:0.8,0.1)")
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
  AddCommonFlags(command, &state->common);
  command->callback([state, command] { RunEtl(*state, command); });
}

}  // namespace aiok::cli
