// The commands of libaiok_torch.so (torch_commands.h explains the plugin).
#pragma once

#include <CLI/CLI.hpp>

namespace aiok::cli {

void AddTrainCommand(CLI::App& app);
/// predict, serve and bundle: using a trained model.
void AddPredictCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);
void AddBundleCommand(CLI::App& app);
/// run: click-to-run.
void AddRunCommand(CLI::App& app);

}  // namespace aiok::cli
