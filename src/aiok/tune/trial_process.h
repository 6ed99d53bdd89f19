// One trial as a separate process, started with its output in a log file, that cannot outlive
// the tune process — its own children included.
//
// Each trial gets a small supervisor: a forked copy of the tune process that runs no code but
// its loop. The supervisor leads a new process group, starts the trial command in it (so
// every process the command starts is in the group too, unless it leaves on purpose) and
// holds the read end of a pipe whose only writer is the tune process. When the tune process
// ends in any way, kill -9 included, the kernel closes that pipe; the supervisor sees the end
// of file and kills the whole group, itself last. PR_SET_PDEATHSIG alone reached only the
// trial's direct child (and fires when the parent *thread* ends), so a shell's children ran on
// as orphans. When the command ends by itself, the supervisor passes its exit status to the
// tune process through a second pipe and kills what the command left behind.
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
  /// `log_path`, under a supervisor. Throws Error(kIo) if it cannot start.
  TrialProcess(const std::vector<std::string>& argv, const std::string& log_path);
  /// Kills the process group (supervisor, command and its children) if it still runs.
  ~TrialProcess();
  TrialProcess(const TrialProcess&) = delete;
  TrialProcess& operator=(const TrialProcess&) = delete;

  /// The trial command's own process (what a person would kill to stop the trial).
  pid_t pid() const { return pid_; }
  /// The process group of the supervisor, the command and everything the command started.
  pid_t group() const { return group_; }
  /// The command's exit status once it has ended and its group is gone; nullopt while it runs.
  std::optional<ExitStatus> Poll();
  /// Sends `signal` to the command and its children (the supervisor ignores all but SIGKILL).
  void Signal(int signal);

 private:
  pid_t pid_ = -1;
  pid_t group_ = -1;    ///< also the supervisor's pid
  int lifeline_ = -1;   ///< write end: closing it (or dying) makes the supervisor kill the group
  int status_fd_ = -1;  ///< read end: the command's pid, then its wait status
  bool reaped_ = false;
};

/// The last non-empty line of a file (for a failed trial's message), at most `limit` chars.
std::string LastLine(const std::string& path, size_t limit = 300);

}  // namespace aiok::tune
