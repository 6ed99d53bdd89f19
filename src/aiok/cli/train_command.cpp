#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "aiok/cli/cli_common.h"
#include "aiok/cli/plugin_commands.h"
#include "aiok/core/error.h"
#include "aiok/core/progress.h"
#include "aiok/models/model.h"
#include "aiok/train/communicator.h"
#include "aiok/train/distributed.h"
#include "aiok/train/trainer.h"

namespace aiok::cli {
namespace {

// The model a `train` command line names (--model NAME or --model=NAME), looked for before
// parsing so that the model's own options become flags: `aiok train --model dlrm --emb-dim 8`,
// and `aiok train --model dlrm --help` lists them. `fallback` when not named.
std::string ModelOnCommandLine(int argc, char** argv, const std::string& fallback) {
  if (argc < 2 || std::strcmp(argv[1], "train") != 0)
    return fallback;
  std::string model = fallback;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--model" && i + 1 < argc)
      model = argv[i + 1];
    else if (arg.rfind("--model=", 0) == 0)
      model = arg.substr(std::strlen("--model="));
  }
  return model;
}

std::string ModelListing() {
  const models::ModelRegistry& registry = models::BuiltinModels();
  std::string out = "Models (aiok train --model NAME; each option below is a flag):\n";
  for (const std::string& name : registry.Names()) {
    out += fmt::format("\n{}: {}\n", name, registry.Description(name));
    OptionListing listing("--");
    registry.DefaultOptions(name)->Visit(listing);
    out += listing.text();
  }
  return out;
}

}  // namespace

void AddTrainCommand(CLI::App& app, int argc, char** argv) {
  struct State {
    CommonFlags common;
    train::TrainOptions options;
    loader::LoaderOptions loader;
    train::OptimizerOptions optimizer;
    std::unique_ptr<models::ModelOptions> model_options;  // null for an unknown --model
    bool list_models = false;
  };
  auto state = std::make_shared<State>();
  auto* command = app.add_subcommand("train", "Train a model on a dataset directory");
  // Not ->required(): --list-models needs neither; the callback checks them.
  command->add_option("--data", state->options.data_dir,
                      "dataset directory (from aiok etl); required");
  command->add_option("--out", state->options.out_dir, "model directory to write; required");
  command->add_flag("--list-models", state->list_models,
                    "list the models and their options, then exit");
  FlagBinder binder(command);
  state->options.Visit(binder);
  state->loader.Visit(binder);
  state->optimizer.Visit(binder);
  const std::string model = ModelOnCommandLine(argc, argv, state->options.model);
  const models::ModelRegistry& registry = models::BuiltinModels();
  const std::vector<std::string> names = registry.Names();
  // An unknown name gets no model flags; parsing --model then fails listing the valid ones.
  if (std::find(names.begin(), names.end(), model) != names.end()) {
    state->model_options = registry.DefaultOptions(model);
    state->model_options->Visit(binder);
  }
  AddCommonFlags(command, &state->common);
  command->callback([state, command] {
    if (state->list_models) {
      fmt::print("{}", ModelListing());
      return;
    }
    AIOK_CHECK(!state->options.data_dir.empty(), ErrorKind::kUsage,
               "train: --data is required (a dataset directory from aiok etl)");
    AIOK_CHECK(!state->options.out_dir.empty(), ErrorKind::kUsage,
               "train: --out is required (the model directory to write)");
    AIOK_ASSERT(state->model_options != nullptr);
    state->options.model_options = models::ModelOptionsToJson(*state->model_options);
    // Under mpirun every rank runs this command (data-parallel training); MPI starts here,
    // before StartRun installs the signal handlers. Without mpirun this is one process.
    std::unique_ptr<train::Communicator> ranks =
        train::ConnectRanks(state->options.rank_timeout);
    if (ranks->size() > 1) {
      if (command->count("--threads") == 0)
        state->common.threads = train::DefaultThreadsPerRank();
      if (ranks->rank() != 0) {  // progress and log lines come from rank 0
        state->common.quiet = true;
        state->common.verbose = false;
      }
    }
    const RunContext ctx = StartRun(state->common);
    train::TrainResult r;
    try {
      r = train::Train(state->options, state->loader, state->optimizer, ctx, *ranks);
    } catch (const train::RanksStopped& stopped) {
      // Rank 0 reports why the run did not start; this rank only ends with its exit code.
      ranks.reset();
      std::fflush(nullptr);
      std::_Exit(stopped.exit_code());
    }
    if (ranks->rank() != 0)
      return;
    std::string quality;
    if (r.task == data::Task::kBinary) {
      std::string bayes;
      if (r.test.bayes_auc >= 0) {
        bayes = fmt::format(" (Bayes-optimal {:.4f}, gap {:.4f})", r.test.bayes_auc,
                            r.test.bayes_auc - r.test.auc);
      }
      quality = fmt::format("valid AUC {:.4f}; test AUC {:.4f}{}, logloss {:.4f}", r.valid.auc,
                            r.test.auc, bayes, r.test.logloss);
    } else {
      quality = fmt::format("valid RMSE {:.4f}; test RMSE {:.4f}, MAE {:.4f}", r.valid.rmse,
                            r.test.rmse, r.test.mae);
    }
    fmt::print(
        "train: {} steps in {} ({} samples/s); {}{} -> {}/metrics.json\n", r.steps,
        HumanSeconds(r.train_seconds), HumanCount(r.samples_per_second), quality,
        r.seconds_to_target >= 0
            ? fmt::format("; target reached after {} of training ({} with evaluations)",
                          HumanSeconds(r.seconds_to_target), HumanSeconds(r.wall_seconds_to_target))
            : "",
        state->options.out_dir);
  });
}

}  // namespace aiok::cli
