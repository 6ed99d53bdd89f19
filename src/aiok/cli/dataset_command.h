// `aiok dataset info|head|export`: look into a dataset directory.
#pragma once

#include <CLI/CLI.hpp>

namespace aiok::cli {

void AddDatasetCommand(CLI::App& app);

}  // namespace aiok::cli
