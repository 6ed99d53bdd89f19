// Starting the aiok binary as a separate process the way a user does, for tests that need it
// running in the background (servers, interrupted runs).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace aiok::testing {

inline std::string SlurpFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// A running `aiok ARGS...` whose stdout and stderr go to files.
class AiokProcess {
 public:
  AiokProcess(const std::vector<std::string>& args, std::string out_file, std::string err_file)
      : out_file_(std::move(out_file)), err_file_(std::move(err_file)) {
    std::vector<std::string> storage = {AIOK_BINARY};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : storage)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    if (posix_spawn(&pid_, AIOK_BINARY, &actions, nullptr, argv.data(), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~AiokProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }
  AiokProcess(const AiokProcess&) = delete;
  AiokProcess& operator=(const AiokProcess&) = delete;

  bool started() const { return pid_ > 0; }
  void Signal(int signal) { ::kill(pid_, signal); }

  /// Waits for the exit; returns the exit code (128 + signal if killed).
  int Wait() {
    if (!exited_) {
      ::waitpid(pid_, &status_, 0);
      exited_ = true;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }

  /// Polls until `done()` or the process exits or `timeout` passes; true if `done()`.
  template <typename Done>
  bool WaitFor(Done done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done())
        return true;
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        return done();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  std::string out() const { return SlurpFile(out_file_); }
  std::string err() const { return SlurpFile(err_file_); }

 private:
  std::string out_file_;
  std::string err_file_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

/// Runs `aiok ARGS...` to the end; returns the exit code.
inline int RunAiok(const std::vector<std::string>& args, const std::string& out_file,
                   const std::string& err_file) {
  AiokProcess process(args, out_file, err_file);
  return process.Wait();
}

}  // namespace aiok::testing
