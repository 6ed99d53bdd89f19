// aiok run: click-to-run (workflow/click_to_run.h).
#include <fmt/format.h>

#include <memory>

#include "aiok/cli/cli_common.h"
#include "aiok/cli/plugin_commands.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/progress.h"
#include "aiok/models/model.h"
#include "aiok/workflow/click_to_run.h"

namespace aiok::cli {

void AddRunCommand(CLI::App& app) {
  struct State {
    CommonFlags common;
    std::string model = "dlrm";
    std::string data;
    int64_t rows = 0;
    int64_t tune_trials = 0;
    int64_t ranks = 1;
    std::string out = "aiok-run";
    std::string config_file;
    std::string label;
    std::string schema;
    std::string pipeline;
    std::string task;
    std::string positive;
  };
  auto state = std::make_shared<State>();
  auto* command = app.add_subcommand(
      "run", "From raw data (or built-in synthetic data) to a model bundle and a report");
  command->add_option("--model", state->model, "model family (aiok train --list-models)")
      ->check(CLI::IsMember(models::BuiltinModels().Names()))
      ->capture_default_str();
  auto* data = command->add_option(
      "--data", state->data,
      "raw rows: CSV/TSV (with or without a header) or Parquet of any schema, Criteo's layout "
      "included (default: synthetic data: Criteo-like, or behaviour logs for --model dien)");
  command->add_option("--label", state->label,
                      "the label field (default: label, y, target or click by name)");
  command
      ->add_option("--schema", state->schema,
                   "schema YAML (default: inferred; aiok schema infer FILE writes one to edit)")
      ->check(CLI::ExistingFile);
  command
      ->add_option("--pipeline", state->pipeline,
                   "pipeline YAML (default: criteo preset on Criteo's layout, else each "
                   "field's default chain)")
      ->check(CLI::ExistingFile);
  command->add_option("--task", state->task, "auto, binary or regression")
      ->check(CLI::IsMember({"auto", "binary", "regression"}));
  command->add_option("--positive", state->positive, "binary task: the label value meaning 1");
  command
      ->add_option(
          "--rows", state->rows,
          fmt::format("rows of synthetic data (default {})", workflow::kDefaultSyntheticRows))
      ->check(CLI::Range(int64_t{1000}, int64_t{1} << 40))
      ->excludes(data);
  command
      ->add_option("--tune", state->tune_trials,
                   "tune first: this many trials of aiok train over the model's built-in search "
                   "space (run.yaml's tune: section sets objectives, budget_minutes, ...); the "
                   "final training takes the chosen trial's values")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  command
      ->add_option("--ranks", state->ranks,
                   "train on this many data-parallel ranks of this machine, as mpirun -np N "
                   "aiok train (Open MPI: openmpi-bin); the global batch is the same for any N, "
                   "so the result is too, within float rounding, and a checkpoint resumes with "
                   "any N. The ETL and tuning trials stay one process each (multi-process ETL "
                   "does not exist yet); run.yaml: ranks")
      ->check(CLI::Range(int64_t{1}, workflow::kMaxRanks));
  command->add_option("--out", state->out, "run directory (reruns skip unchanged stages)")
      ->capture_default_str();
  command
      ->add_option("--config", state->config_file,
                   "run configuration (YAML or JSON), e.g. "
                   "an earlier DIR/run.yaml")
      ->check(CLI::ExistingFile);
  AddCommonFlags(command, &state->common);
  command->callback([state, command] {
    const RunContext ctx = StartRun(state->common);
    workflow::RunConfig config =
        state->config_file.empty()
            ? workflow::RunConfig()
            : workflow::RunConfig::FromJson(LoadConfigFile(state->config_file), state->config_file);
    // Flags override the config file.
    if (command->count("--data"))
      config.input = state->data;
    if (command->count("--rows")) {
      config.input.clear();
      config.synthetic["rows"] = state->rows;
    }
    if (command->count("--model"))
      config.train.model = state->model;
    if (command->count("--label"))
      config.label = state->label;
    if (command->count("--schema"))
      config.schema = state->schema;
    if (command->count("--pipeline"))
      config.pipeline = state->pipeline;
    if (command->count("--task"))
      config.task = state->task;
    if (command->count("--positive"))
      config.positive = state->positive;
    if (command->count("--seed"))
      config.seed = state->common.seed;
    if (command->count("--tune"))
      config.tune.trials = state->tune_trials;
    if (command->count("--ranks"))
      config.ranks = state->ranks;
    config.Validate();
    const workflow::RunOutcome outcome = workflow::ClickToRun(config, state->out, ctx);
    const auto& r = outcome.report;
    const auto& test = r.at("train").at("test");
    if (test.contains("auc")) {
      fmt::print("run: test AUC {:.4f}{} -> bundle {}\n", test.at("auc").get<double>(),
                 test.contains("bayes_auc")
                     ? fmt::format(" (Bayes-optimal {:.4f})", test.at("bayes_auc").get<double>())
                     : "",
                 r.at("bundle").get<std::string>());
    } else {
      fmt::print("run: test RMSE {:.4f} -> bundle {}\n", test.value("rmse", 0.0),
                 r.at("bundle").get<std::string>());
    }
    if (r.contains("tune") && r.at("tune").is_object()) {
      const auto& chosen = r.at("tune").at("chosen");
      fmt::print("run: tuning chose trial {} ({}): {} (study {})\n",
                 chosen.at("trial").get<int64_t>(), r.at("tune").at("rule").get<std::string>(),
                 chosen.at("params").dump(), r.at("tune").at("study").get<std::string>());
    }
    fmt::print("run: report {}/report.html (and report.md); stages:", state->out);
    for (const auto& stage : outcome.stages)
      fmt::print(" {} {} ({})", stage.name, stage.status, HumanSeconds(stage.seconds));
    fmt::print("\nrun: predict with: {}\nrun: serve with:   {}\n",
               r.at("commands").at("predict").get<std::string>(),
               r.at("commands").at("serve").get<std::string>());
  });
}

}  // namespace aiok::cli
