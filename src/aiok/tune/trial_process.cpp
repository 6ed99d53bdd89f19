#include "aiok/tune/trial_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "aiok/core/error.h"

namespace aiok::tune {

TrialProcess::TrialProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  AIOK_ASSERT(!argv.empty());
  std::vector<char*> args;
  std::vector<std::string> storage = argv;
  for (std::string& a : storage)
    args.push_back(a.data());
  args.push_back(nullptr);
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  AIOK_CHECK(log >= 0, ErrorKind::kIo, "cannot open trial log '{}': {}", log_path,
             std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);  // the parent died before the death signal was armed
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execvp(args[0], args.data());
    static const char kMessage[] = "aiok tune: cannot start the trial command\n";
    (void)!::write(2, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  ::close(log);
  AIOK_CHECK(pid > 0, ErrorKind::kIo, "cannot start a trial: {}", std::strerror(errno));
  // Set it from this side too, so that signalling the group works even before the child ran.
  ::setpgid(pid, pid);
  pid_ = pid;
}

TrialProcess::~TrialProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::optional<ExitStatus> TrialProcess::Poll() {
  if (reaped_)
    return std::nullopt;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_)
    return std::nullopt;
  reaped_ = true;
  // Whatever the trial started in its group goes with it.
  ::kill(-pid_, SIGKILL);
  ExitStatus out;
  if (WIFEXITED(status))
    out.code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    out.signal = WTERMSIG(status);
  return out;
}

void TrialProcess::Signal(int signal) {
  if (pid_ > 0 && !reaped_)
    ::kill(-pid_, signal);
}

std::string LastLine(const std::string& path, size_t limit) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    // Progress bars rewrite their line with carriage returns; keep the final state.
    const size_t cr = line.find_last_of('\r', line.size() >= 2 ? line.size() - 2 : 0);
    if (cr != std::string::npos && cr + 1 < line.size())
      line = line.substr(cr + 1);
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      last = line;
  }
  if (last.size() > limit)
    last = last.substr(0, limit) + "...";
  return last;
}

}  // namespace aiok::tune
