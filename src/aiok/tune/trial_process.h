// One trial as a separate process: started with its output in a log file, in its own process
// group (so a shell command's children are stopped with it), and set to receive SIGKILL when
// the tune process dies, so a killed tune process leaves no orphan trials behind.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace aiok::tune {

/// How a trial process ended.
struct ExitStatus {
  int code = 0;    ///< exit code when it exited
  int signal = 0;  ///< the signal that killed it, or 0
};

class TrialProcess {
 public:
  /// Starts `argv` (argv[0] is a path or found on PATH) with stdout and stderr appended to
  /// `log_path`. Throws Error(kIo) if it cannot start. Must be called from the thread that
  /// lives as long as the process (the death signal follows the parent thread).
  TrialProcess(const std::vector<std::string>& argv, const std::string& log_path);
  /// Kills the process group if it still runs.
  ~TrialProcess();
  TrialProcess(const TrialProcess&) = delete;
  TrialProcess& operator=(const TrialProcess&) = delete;

  pid_t pid() const { return pid_; }
  /// The exit status once the process has ended; nullopt while it runs.
  std::optional<ExitStatus> Poll();
  /// Sends `signal` to the process group.
  void Signal(int signal);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// The last non-empty line of a file (for a failed trial's message), at most `limit` chars.
std::string LastLine(const std::string& path, size_t limit = 300);

}  // namespace aiok::tune
