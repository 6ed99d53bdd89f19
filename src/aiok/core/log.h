// Logging setup. aiok logs through spdlog to stderr; results go to stdout or files.
#pragma once

namespace aiok {

/// How much aiok says on stderr.
enum class Verbosity {
  kQuiet,    ///< errors and warnings only; no progress display
  kNormal,   ///< progress and one summary line per stage
  kVerbose,  ///< debug detail as well
};

/// Points spdlog's default logger at stderr with aiok's format and the given level.
void ConfigureLogging(Verbosity verbosity);

/// The verbosity set by the last ConfigureLogging call (kNormal before any).
Verbosity CurrentVerbosity();

}  // namespace aiok
