// What every subcommand shares: the common flags, the run context built from them, and the
// binding of declared options (core/options.h) to command-line flags.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/core/options.h"

namespace aiok::cli {

/// Flags every subcommand takes.
struct CommonFlags {
  int threads = 0;  ///< 0 until parsed; defaults to the available cores
  uint64_t seed = 42;
  bool quiet = false;
  bool verbose = false;
};

/// Adds --threads, --seed, --quiet and --verbose to `command`.
void AddCommonFlags(CLI::App* command, CommonFlags* flags);

/// Applies the common flags (logging, libtorch/OpenMP threads) and returns the run context.
/// The cancellation token is cancelled by SIGINT/SIGTERM.
RunContext StartRun(const CommonFlags& flags);

/// Runs `body`, turning what it throws into the documented exit codes — 0 success, 2 usage
/// (CLI11 parse errors, kUsage, kConfig), 1 runtime, 130 interrupted — with a one-line cause
/// on stderr. `app` prints help and version requests.
int RunWithExitCodes(CLI::App& app, const std::function<void()>& body);

/// Writes declared options as the listings show them (--list-models, --list-operators): one
/// entry per option with its type, help, default and bounds; `prefix` starts each name ("--"
/// for flags, "" for YAML keys).
class OptionListing final : public OptionVisitor {
 public:
  explicit OptionListing(std::string prefix) : prefix_(std::move(prefix)) {}
  void Int(const char* name, int64_t* value, int64_t min, int64_t max, const char* help) override;
  void Real(const char* name, double* value, double min, double max, const char* help) override;
  void Text(const char* name, std::string* value, const std::vector<std::string>& choices,
            const char* help) override;
  void Flag(const char* name, bool* value, const char* help) override;
  const std::string& text() const { return text_; }

 private:
  void Add(const char* name, const char* type, const std::string& value, const std::string& bounds,
           const char* help);
  std::string prefix_;
  std::string text_;
};

/// Adds one --flag per declared option of `options`, with its default, bounds and help.
template <typename Options>
void AddOptionFlags(CLI::App* command, Options& options);

/// The visitor behind AddOptionFlags.
class FlagBinder final : public OptionVisitor {
 public:
  explicit FlagBinder(CLI::App* command) : command_(command) {}
  void Int(const char* name, int64_t* value, int64_t min, int64_t max, const char* help) override;
  void Real(const char* name, double* value, double min, double max, const char* help) override;
  void Text(const char* name, std::string* value, const std::vector<std::string>& choices,
            const char* help) override;
  void Flag(const char* name, bool* value, const char* help) override;

 private:
  CLI::App* command_;
};

template <typename Options>
void AddOptionFlags(CLI::App* command, Options& options) {
  FlagBinder binder(command);
  options.Visit(binder);
}

}  // namespace aiok::cli
