// Commands that need libtorch (train, and later predict and serve) live in a plugin,
// libaiok_torch.so beside the aiok binary, loaded only when one of them runs: libtorch costs
// ~0.3 s of start-up (about 290 shared libraries), which datagen, etl and dataset should not
// pay. The main binary declares the command words so `aiok --help` lists them; the plugin
// parses their flags.
#pragma once

#include <CLI/CLI.hpp>

namespace aiok::cli {

/// Declares the plugin's commands on `app`. When one of them runs, the plugin is loaded and
/// given the whole command line; its exit code is stored in *exit_code.
void AddTorchCommands(CLI::App& app, int* exit_code);

}  // namespace aiok::cli
