#include "aiok/cli/torch_commands.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "aiok/core/error.h"

namespace aiok::cli {
namespace {

// The plugin beside the running executable.
std::string PluginPath() {
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  AIOK_CHECK(n > 0, ErrorKind::kIo, "cannot find the aiok executable's directory");
  exe[n] = '\0';
  std::string dir(exe);
  return dir.substr(0, dir.rfind('/')) + "/libaiok_torch.so";
}

int RunPlugin(const std::string& command, const std::vector<std::string>& args) {
  const std::string path = PluginPath();
  void* plugin = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  AIOK_CHECK(plugin != nullptr, ErrorKind::kIo, "cannot load '{}': {}", path, ::dlerror());
  using Main = int (*)(int, char**);
  auto main = reinterpret_cast<Main>(::dlsym(plugin, "AiokTorchCommandMain"));
  AIOK_CHECK(main != nullptr, ErrorKind::kInternal, "'{}' has no AiokTorchCommandMain", path);
  std::vector<std::string> argv_storage = {"aiok", command};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  // The plugin stays loaded until exit: its threads and static objects may outlive the call.
  return main(static_cast<int>(argv_storage.size()), argv.data());
}

}  // namespace

void AddTorchCommands(CLI::App& app, int* exit_code) {
  const std::vector<std::pair<std::string, std::string>> commands = {
      {"run", "From raw data (or built-in synthetic data) to a model bundle and a report"},
      {"train", "Train a model on a dataset directory (aiok train --help for the flags)"},
      {"predict", "Score raw rows with a model bundle"},
      {"serve", "Serve a model bundle over HTTP"},
      {"bundle", "Package a trained model with its ETL state as a bundle"},
      {"tune", "Search hyper-parameters with trials of aiok train (or any command)"}};
  for (const auto& [name, description] : commands) {
    auto* command = app.add_subcommand(name, description);
    command->prefix_command();  // everything after the word goes to the plugin as it is
    command->set_help_flag();   // --help too: the plugin knows the flags
    command->callback(
        [command, name = name, exit_code] { *exit_code = RunPlugin(name, command->remaining()); });
  }
}

}  // namespace aiok::cli
