#include "aiok/cli/cli_common.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>

#include "aiok/core/error.h"
#include "aiok/core/log.h"
#include "aiok/core/threads.h"

namespace aiok::cli {

void AddCommonFlags(CLI::App* command, CommonFlags* flags) {
  flags->threads = AvailableCores();
  command->add_option("--threads", flags->threads, "threads to use (aiok, libtorch and OpenMP)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  command->add_option("--seed", flags->seed, "seed of every random choice")->capture_default_str();
  command->add_flag("-q,--quiet", flags->quiet, "only warnings and errors; no progress");
  command->add_flag("-v,--verbose", flags->verbose, "debug detail");
}

RunContext StartRun(const CommonFlags& flags) {
  ConfigureLogging(flags.quiet     ? Verbosity::kQuiet
                   : flags.verbose ? Verbosity::kVerbose
                                   : Verbosity::kNormal);
  ApplyThreadSettings(flags.threads);
  static CancellationToken token;
  CancelOnSignals(&token);
  RunContext ctx;
  ctx.seed = flags.seed;
  ctx.threads = flags.threads;
  ctx.cancel = &token;
  return ctx;
}

int RunWithExitCodes(CLI::App& app, const std::function<void()>& body) {
  constexpr int kExitRuntime = 1;
  constexpr int kExitUsage = 2;
  constexpr int kExitInterrupted = 130;
  try {
    body();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "aiok: usage error: %s\nRun 'aiok --help' or 'aiok <command> --help'.\n",
                 e.what());
    return kExitUsage;
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kUsage || e.kind() == ErrorKind::kConfig) {
      std::fprintf(stderr, "aiok: usage error: %s\nRun 'aiok --help' for the commands.\n",
                   e.what());
      return kExitUsage;
    }
    std::fprintf(stderr, "aiok: %s error: %s\n", ErrorKindName(e.kind()), e.what());
    return e.kind() == ErrorKind::kCancelled ? kExitInterrupted : kExitRuntime;
  } catch (const std::exception& e) {
    // One line: libraries' exceptions (libtorch's) append a backtrace on the lines after.
    const std::string message = e.what();
    std::fprintf(stderr, "aiok: error: %s\n", message.substr(0, message.find('\n')).c_str());
    return kExitRuntime;
  }
  return 0;
}

void FlagBinder::Int(const char* name, int64_t* value, int64_t min, int64_t max, const char* help) {
  command_->add_option(std::string("--") + name, *value, help)
      ->check(CLI::Range(min, max))
      ->capture_default_str();
}

void FlagBinder::Real(const char* name, double* value, double min, double max, const char* help) {
  command_->add_option(std::string("--") + name, *value, help)
      ->check(CLI::Range(min, max))
      ->capture_default_str();
}

void FlagBinder::Text(const char* name, std::string* value, const std::vector<std::string>& choices,
                      const char* help) {
  auto* option =
      command_->add_option(std::string("--") + name, *value, help)->capture_default_str();
  if (!choices.empty())
    option->check(CLI::IsMember(choices));
}

void FlagBinder::Flag(const char* name, bool* value, const char* help) {
  command_->add_flag(std::string("--") + name + ",!--no-" + name, *value, help);
}

void OptionListing::Int(const char* name, int64_t* value, int64_t min, int64_t max,
                        const char* help) {
  Add(name, "INT", std::to_string(*value),
      max == kNoIntLimit ? fmt::format("at least {}", min) : fmt::format("{} to {}", min, max),
      help);
}

void OptionListing::Real(const char* name, double* value, double min, double max,
                         const char* help) {
  Add(name, "REAL", fmt::format("{}", *value), fmt::format("{} to {}", min, max), help);
}

void OptionListing::Text(const char* name, std::string* value,
                         const std::vector<std::string>& choices, const char* help) {
  Add(name, "TEXT", value->empty() ? "\"\"" : *value,
      choices.empty() ? "" : fmt::format("one of {}", fmt::join(choices, ", ")), help);
}

void OptionListing::Flag(const char* name, bool* value, const char* help) {
  Add(name, "", *value ? "on" : "off", "", help);
}

void OptionListing::Add(const char* name, const char* type, const std::string& value,
                        const std::string& bounds, const char* help) {
  text_ += fmt::format("  {}{} {}\n      {} (default {}{})\n", prefix_, name, type, help, value,
                       bounds.empty() ? "" : "; " + bounds);
}

}  // namespace aiok::cli
