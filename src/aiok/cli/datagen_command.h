// `aiok datagen <generator> ...`: one subcommand per registered generator.
#pragma once

#include <CLI/CLI.hpp>

namespace aiok::cli {

/// Adds the datagen command and its per-generator subcommands to `app`.
void AddDatagenCommand(CLI::App& app);

}  // namespace aiok::cli
