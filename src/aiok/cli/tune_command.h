// `aiok tune`: the model advisor (src/aiok/tune). In the torch plugin because the built-in
// search spaces come from the registered models' declared options; the trials themselves are
// separate `aiok train` (or --command) processes.
#pragma once

#include <CLI/CLI.hpp>

namespace aiok::cli {

/// tune, tune show, tune export, tune report, tune space.
void AddTuneCommand(CLI::App& app);

}  // namespace aiok::cli
