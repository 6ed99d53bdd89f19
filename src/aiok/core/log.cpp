#include "aiok/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace aiok {
namespace {
std::atomic<Verbosity> g_verbosity{Verbosity::kNormal};
}  // namespace

void ConfigureLogging(Verbosity verbosity) {
  g_verbosity = verbosity;
  auto logger = spdlog::stderr_color_mt("aiok");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%l]%$ %v");
  switch (verbosity) {
    case Verbosity::kQuiet:
      spdlog::set_level(spdlog::level::warn);
      break;
    case Verbosity::kNormal:
      spdlog::set_level(spdlog::level::info);
      break;
    case Verbosity::kVerbose:
      spdlog::set_level(spdlog::level::debug);
      break;
  }
}

Verbosity CurrentVerbosity() { return g_verbosity; }

}  // namespace aiok
