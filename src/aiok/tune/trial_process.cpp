#include "aiok/tune/trial_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "aiok/core/error.h"

namespace aiok::tune {
namespace {

// The supervisor's descriptors, moved to fixed numbers so that it can close every other one
// (a later trial's supervisor would otherwise hold this one's lifeline open).
constexpr int kLifelineFd = 3;
constexpr int kStatusFd = 4;

// Signals meant for the trial command: the supervisor ignores them (only the end of the
// lifeline or of the command ends it) and the command gets them back at their defaults.
constexpr int kPassedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2};

void SetDisposition(int signal, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(signal, &action, nullptr);
}

bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes unless the pipe ends first; returns the bytes read.
size_t ReadAll(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, p + done, size - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += static_cast<size_t>(n);
  }
  return done;
}

// The supervisor: a fork of a multithreaded process, so only async-signal-safe calls (no
// allocation, no locks) from here on.
[[noreturn]] void Supervise(char* const* args, int log, int lifeline, int status) {
  ::setpgid(0, 0);
  for (int signal : kPassedSignals)
    SetDisposition(signal, SIG_IGN);
  SetDisposition(SIGCHLD, SIG_DFL);  // SIG_IGN would reap the command before we see it
  const int null = ::open("/dev/null", O_RDONLY);
  ::dup2(null, 0);
  ::dup2(log, 1);
  ::dup2(log, 2);
  const int lifeline_high = ::fcntl(lifeline, F_DUPFD, kStatusFd + 1);
  const int status_high = ::fcntl(status, F_DUPFD, kStatusFd + 1);
  ::dup2(lifeline_high, kLifelineFd);
  ::dup2(status_high, kStatusFd);
  if (::close_range(kStatusFd + 1, ~0U, 0) != 0)
    for (int fd = kStatusFd + 1; fd < 65536; ++fd)
      ::close(fd);
  ::fcntl(kLifelineFd, F_SETFD, FD_CLOEXEC);
  ::fcntl(kStatusFd, F_SETFD, FD_CLOEXEC);

  const pid_t supervisor = ::getpid();
  const pid_t child = ::fork();
  if (child == 0) {
    for (int signal : kPassedSignals)
      SetDisposition(signal, SIG_DFL);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the tune thread's mask is not the trial's
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != supervisor)
      ::_exit(127);
    ::execvp(args[0], args);
    static const char kMessage[] = "aiok tune: cannot start the trial command\n";
    (void)!::write(2, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  const int32_t reported = child > 0 ? static_cast<int32_t>(child) : -1;
  WriteAll(kStatusFd, &reported, sizeof reported);
  if (child < 0)
    ::_exit(127);

  // Wait for the command to end or the tune process to go, whichever comes first. A pidfd
  // wakes us when the command ends; without one (kernels before 5.3) we look every 100 ms.
  const int child_fd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  for (;;) {
    struct pollfd fds[2] = {{kLifelineFd, POLLIN, 0}, {child_fd, POLLIN, 0}};
    const int ready = ::poll(fds, child_fd >= 0 ? 2 : 1, child_fd >= 0 ? -1 : 100);
    if (ready > 0 && fds[0].revents != 0) {
      ::kill(0, SIGKILL);  // the tune process is gone (it never writes): end the group
      ::_exit(137);
    }
    int wait_status = 0;
    if (::waitpid(child, &wait_status, WNOHANG) == child) {
      const int32_t raw = wait_status;
      WriteAll(kStatusFd, &raw, sizeof raw);
      ::kill(0, SIGKILL);  // what the command left running, then the supervisor itself
      ::_exit(137);
    }
  }
}

}  // namespace

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
  int lifeline[2], status[2];
  if (::pipe2(lifeline, O_CLOEXEC) != 0) {
    ::close(log);
    Throw(ErrorKind::kIo, "cannot start a trial: pipe: {}", std::strerror(errno));
  }
  if (::pipe2(status, O_CLOEXEC) != 0) {
    const int error = errno;
    for (int fd : {log, lifeline[0], lifeline[1]})
      ::close(fd);
    Throw(ErrorKind::kIo, "cannot start a trial: pipe: {}", std::strerror(error));
  }
  const pid_t supervisor = ::fork();
  if (supervisor == 0)
    Supervise(args.data(), log, lifeline[0], status[1]);
  const int fork_error = errno;
  for (int fd : {log, lifeline[0], status[1]})
    ::close(fd);
  if (supervisor < 0) {
    ::close(lifeline[1]);
    ::close(status[0]);
    Throw(ErrorKind::kIo, "cannot start a trial: {}", std::strerror(fork_error));
  }
  // Set it from this side too, so that the group exists whichever process runs first.
  ::setpgid(supervisor, supervisor);
  group_ = supervisor;
  lifeline_ = lifeline[1];
  status_fd_ = status[0];
  int32_t child = -1;
  if (ReadAll(status_fd_, &child, sizeof child) != sizeof child || child <= 0) {
    ::kill(-group_, SIGKILL);
    ::waitpid(group_, nullptr, 0);
    ::close(lifeline_);
    ::close(status_fd_);
    Throw(ErrorKind::kIo, "cannot start a trial: its supervisor could not start '{}'", argv[0]);
  }
  pid_ = child;
}

TrialProcess::~TrialProcess() {
  if (group_ > 0 && !reaped_) {
    ::kill(-group_, SIGKILL);
    ::waitpid(group_, nullptr, 0);
  }
  if (lifeline_ >= 0)
    ::close(lifeline_);
  if (status_fd_ >= 0)
    ::close(status_fd_);
}

std::optional<ExitStatus> TrialProcess::Poll() {
  if (reaped_)
    return std::nullopt;
  // Whether the supervisor has ended, without reaping it: while it is a zombie its pid, which
  // is the group's id, cannot be given to another process, so the kill below cannot reach a
  // stranger's group that took the number.
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(group_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid != group_)
    return std::nullopt;
  // The supervisor normally took the group with it; if it was killed from outside, its
  // command and the command's children may still run.
  ::kill(-group_, SIGKILL);
  int supervisor_status = 0;
  pid_t reaped = -1;
  do {
    reaped = ::waitpid(group_, &supervisor_status, 0);
  } while (reaped < 0 && errno == EINTR);
  AIOK_ASSERT(reaped == group_);
  reaped_ = true;
  // Every writer of the status pipe is gone, so this read cannot block.
  int32_t raw = 0;
  const bool reported = ReadAll(status_fd_, &raw, sizeof raw) == sizeof raw;
  const int status = reported ? raw : supervisor_status;
  ExitStatus out;
  if (WIFEXITED(status))
    out.code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    out.signal = WTERMSIG(status);
  return out;
}

void TrialProcess::Signal(int signal) {
  if (group_ > 0 && !reaped_)
    ::kill(-group_, signal);
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
