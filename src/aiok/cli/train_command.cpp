#include <fmt/format.h>

#include "aiok/cli/cli_common.h"
#include "aiok/cli/plugin_commands.h"
#include "aiok/core/progress.h"
#include "aiok/train/trainer.h"

namespace aiok::cli {

void AddTrainCommand(CLI::App& app) {
  struct State {
    CommonFlags common;
    train::TrainOptions options;
    loader::LoaderOptions loader;
    train::OptimizerOptions optimizer;
  };
  auto state = std::make_shared<State>();
  auto* command = app.add_subcommand("train", "Train a model on a dataset directory");
  command->add_option("--data", state->options.data_dir, "dataset directory (from aiok etl)")
      ->required();
  command->add_option("--out", state->options.out_dir, "model directory to write")->required();
  FlagBinder binder(command);
  state->options.Visit(binder);
  state->loader.Visit(binder);
  state->optimizer.Visit(binder);
  AddCommonFlags(command, &state->common);
  command->callback([state] {
    const RunContext ctx = StartRun(state->common);
    const train::TrainResult r = train::Train(state->options, state->loader, state->optimizer, ctx);
    std::string bayes;
    if (r.test.bayes_auc >= 0) {
      bayes = fmt::format(" (Bayes-optimal {:.4f}, gap {:.4f})", r.test.bayes_auc,
                          r.test.bayes_auc - r.test.auc);
    }
    fmt::print(
        "train: {} steps in {} ({} samples/s); valid AUC {:.4f}; test AUC {:.4f}{}, "
        "logloss {:.4f}{} -> {}/metrics.json\n",
        r.steps, HumanSeconds(r.train_seconds), HumanCount(r.samples_per_second), r.valid.auc,
        r.test.auc, bayes, r.test.logloss,
        r.seconds_to_target >= 0
            ? fmt::format("; target reached after {} of training ({} with evaluations)",
                          HumanSeconds(r.seconds_to_target), HumanSeconds(r.wall_seconds_to_target))
            : "",
        state->options.out_dir);
  });
}

}  // namespace aiok::cli
