// The `aiok` command. Thin: it parses flags, calls the parts, and maps errors to exit codes —
// 0 success, 2 usage error, 1 runtime error (130 when interrupted) — with a one-line cause.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "aiok/cli/cli_common.h"
#include "aiok/cli/datagen_command.h"
#include "aiok/cli/dataset_command.h"
#include "aiok/cli/etl_command.h"
#include "aiok/cli/schema_command.h"
#include "aiok/cli/torch_commands.h"
#include "aiok/core/error.h"

namespace {

// CLI11 reports an unknown command word only as "a subcommand is required"; name the word and
// the valid commands instead. Command words come before the first flag.
void CheckCommandWords(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  for (int i = 1;; ++i) {
    const std::string word = i < argc ? argv[i] : "";
    const auto subcommands = current->get_subcommands([](CLI::App*) { return true; });
    if (subcommands.empty())
      return;
    std::vector<std::string> names;
    CLI::App* match = nullptr;
    for (CLI::App* sub : subcommands) {
      names.push_back(sub->get_name());
      if (sub->get_name() == word)
        match = sub;
    }
    if (word.empty() || word[0] == '-') {
      // Flags before a required command word: let CLI11 handle --help and --version.
      if (i < argc)
        return;
      aiok::Throw(aiok::ErrorKind::kUsage, "'{}' needs one of: {}", current->get_name(),
                  fmt::join(names, ", "));
    }
    if (match == nullptr) {
      aiok::Throw(aiok::ErrorKind::kUsage, "unknown command '{}' (valid: {})", word,
                  fmt::join(names, ", "));
    }
    current = match;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Every command allocates and frees blocks of tens of MB per batch (parsed columns in the
  // ETL, activations in libtorch). glibc's default hands blocks that large straight back to
  // the kernel with munmap, so every batch paid its page faults again: a third of `aiok
  // predict`'s time and a tenth of `aiok etl`'s went to the kernel. Keep them in the heap.
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"aiok: an end-to-end AI optimization kit for commodity CPUs", "aiok"};
  app.set_version_flag("--version", "aiok 0.1.0");
  app.require_subcommand(1);
  app.fallthrough(false);
  aiok::cli::AddDatagenCommand(app);
  aiok::cli::AddEtlCommand(app);
  aiok::cli::AddDatasetCommand(app);
  aiok::cli::AddSchemaCommand(app);
  int plugin_exit_code = 0;
  aiok::cli::AddTorchCommands(app, &plugin_exit_code);
  const int exit_code = aiok::cli::RunWithExitCodes(app, [&] {
    CheckCommandWords(app, argc, argv);
    app.parse(argc, argv);
  });
  return exit_code != 0 ? exit_code : plugin_exit_code;
}
