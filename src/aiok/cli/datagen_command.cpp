#include "aiok/cli/datagen_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "aiok/cli/cli_common.h"
#include "aiok/core/progress.h"
#include "aiok/data/generator.h"

namespace aiok::cli {
namespace {

struct DatagenState {
  std::unique_ptr<data::Generator> generator;
  CommonFlags common;
  std::string out_dir;
};

}  // namespace

void AddDatagenCommand(CLI::App& app) {
  auto* datagen = app.add_subcommand("datagen", "Write a synthetic data set with known truth");
  datagen->require_subcommand(1);
  static data::GeneratorRegistry registry;
  data::RegisterBuiltinGenerators(registry);
  for (const std::string& name : registry.Names()) {
    auto state = std::make_shared<DatagenState>();
    state->generator = registry.Create(name);
    auto* command = datagen->add_subcommand(name, registry.Description(name));
    command->add_option("--out", state->out_dir, "output directory")->required();
    FlagBinder binder(command);
    state->generator->VisitOptions(binder);
    AddCommonFlags(command, &state->common);
    command->callback([state, name] {
      const RunContext ctx = StartRun(state->common);
      const data::GeneratorSummary summary = state->generator->Generate(ctx, state->out_dir);
      fmt::print(
          "datagen {}: {} rows, {:.1f} MB in {} ({:.0f} MB/s); positive rate {:.4f}, "
          "Bayes-optimal AUC {:.4f} -> {}\n",
          name, summary.rows, summary.bytes / 1e6, HumanSeconds(summary.seconds),
          summary.bytes / 1e6 / std::max(summary.seconds, 1e-9), summary.positive_rate,
          summary.bayes_auc, summary.data_file);
      if (!std::isnan(summary.no_history_auc)) {
        fmt::print("datagen {}: best AUC without the users' history {:.4f} (see datagen.json)\n",
                   name, summary.no_history_auc);
      }
    });
  }
}

}  // namespace aiok::cli
