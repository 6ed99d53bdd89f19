// libaiok_torch.so: the commands that need libtorch (see torch_commands.h). The main binary
// hands over its command line; this parses the command's flags and runs it.
#include <CLI/CLI.hpp>

#include "aiok/cli/cli_common.h"
#include "aiok/cli/plugin_commands.h"
#include "aiok/cli/tune_command.h"

extern "C" __attribute__((visibility("default"))) int AiokTorchCommandMain(int argc, char** argv) {
  CLI::App app{"aiok: an end-to-end AI optimization kit for commodity CPUs", "aiok"};
  app.require_subcommand(1);
  aiok::cli::AddTrainCommand(app, argc, argv);
  aiok::cli::AddPredictCommand(app);
  aiok::cli::AddServeCommand(app);
  aiok::cli::AddBundleCommand(app);
  aiok::cli::AddRunCommand(app);
  aiok::cli::AddTuneCommand(app);
  return aiok::cli::RunWithExitCodes(app, [&] { app.parse(argc, argv); });
}
