// The commands of libaiok_torch.so (torch_commands.h explains the plugin).
#pragma once

#include <CLI/CLI.hpp>

namespace aiok::cli {

/// train: `argv` is the plugin's command line, read ahead for --model so that the chosen
/// model's options become flags.
void AddTrainCommand(CLI::App& app, int argc, char** argv);
/// predict, serve and bundle: using a trained model.
void AddPredictCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);
void AddBundleCommand(CLI::App& app);
/// run: click-to-run.
void AddRunCommand(CLI::App& app);

}  // namespace aiok::cli
