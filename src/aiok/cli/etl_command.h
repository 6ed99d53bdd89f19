// `aiok etl`: raw data to a dataset directory through a pipeline.
#pragma once

#include <CLI/CLI.hpp>

namespace aiok::cli {

void AddEtlCommand(CLI::App& app);

}  // namespace aiok::cli
