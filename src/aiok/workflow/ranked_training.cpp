#include "aiok/workflow/ranked_training.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "aiok/core/error.h"
#include "aiok/core/log.h"
#include "aiok/tune/train_study.h"

namespace aiok::workflow {
namespace {
using Clock = std::chrono::steady_clock;

// How long mpirun may take to end its ranks after SIGTERM before it is killed. It normally
// needs about a second; the ranks then are gone or orphaned with nothing to talk to.
constexpr std::chrono::seconds kStopGrace{30};
// The end of the child's output kept for the error message of a failed training.
constexpr size_t kTailBytes = 64 * 1024;

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return "";
}

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;  // stderr is gone: the training goes on regardless
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// What the ranks said about their failure: aiok's own error lines ("aiok: rank 1 of 2:
// cancelled error: ..." or "aiok: usage error: ..."), or else the last line mpirun printed.
std::vector<std::string> FailureLines(const std::string& output) {
  std::vector<std::string> aiok, other;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    // Progress displays rewrite their line with carriage returns; keep its final state.
    const size_t cr = line.find_last_of('\r');
    if (cr != std::string::npos)
      line = line.substr(cr + 1);
    if (line.find_first_not_of(" \t-=*") == std::string::npos)
      continue;  // blank, or one of mpirun's banner rules
    if (line.rfind("aiok: ", 0) == 0)
      aiok.push_back(line.substr(6));
    else
      other.push_back(line);
  }
  if (!aiok.empty())
    return aiok;
  // mpirun's own account ends with the line that says which rank ended how.
  if (other.size() > 1)
    other.erase(other.begin(), other.end() - 1);
  return other;
}

// The kind a rank's error line names ("rank 1 of 2: config error: ..."); kIo (a process the
// system ended) when it names none.
ErrorKind KindOf(const std::string& line) {
  if (line.find("usage error:") != std::string::npos)
    return ErrorKind::kConfig;
  for (ErrorKind kind :
       {ErrorKind::kInvalidInput, ErrorKind::kTooLarge, ErrorKind::kConfig, ErrorKind::kIo,
        ErrorKind::kNotImplemented, ErrorKind::kCancelled, ErrorKind::kInternal}) {
    if (line.find(std::string(ErrorKindName(kind)) + " error:") != std::string::npos)
      return kind;
  }
  return ErrorKind::kIo;
}

// A started child process with its stdout and stderr on one pipe.
struct Child {
  pid_t pid = -1;
  int output = -1;
};

Child Start(const std::vector<std::string>& argv) {
  std::vector<std::string> storage = argv;
  std::vector<char*> args;
  for (std::string& a : storage)
    args.push_back(a.data());
  args.push_back(nullptr);
  int pipe_fds[2];
  AIOK_CHECK(::pipe2(pipe_fds, O_CLOEXEC) == 0, ErrorKind::kIo, "cannot start mpirun: pipe: {}",
             std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A fork of a multithreaded process: async-signal-safe calls only until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent)
      ::_exit(127);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(args[0], args.data());
    static const char kMessage[] = "aiok: io error: cannot execute mpirun\n";
    (void)!::write(2, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  const int fork_error = errno;
  ::close(pipe_fds[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    Throw(ErrorKind::kIo, "cannot start mpirun: {}", std::strerror(fork_error));
  }
  return {pid, pipe_fds[0]};
}

// Runs `argv` to its end, copying its output to stderr and passing a stop request on as
// SIGTERM. Returns its wait status and the end of its output.
int RunToEnd(const std::vector<std::string>& argv, const RunContext& ctx, std::string* tail,
             bool* stopped) {
  const Child child = Start(argv);
  bool open = true;
  int status = 0;
  bool exited = false;
  Clock::time_point stop_sent;
  *stopped = false;
  char buffer[16384];
  while (!exited || open) {
    if (open) {
      struct pollfd fd = {child.output, POLLIN, 0};
      if (::poll(&fd, 1, 200) > 0) {
        const ssize_t n = ::read(child.output, buffer, sizeof buffer);
        if (n > 0) {
          WriteAll(2, buffer, static_cast<size_t>(n));
          tail->append(buffer, static_cast<size_t>(n));
          if (tail->size() > 2 * kTailBytes)
            tail->erase(0, tail->size() - kTailBytes);
        } else if (n == 0 || errno != EINTR) {
          open = false;
        }
      }
    } else {
      // mpirun ended its output but not yet itself (or a rank it left holds nothing open).
      ::usleep(20000);
    }
    if (!exited && ::waitpid(child.pid, &status, WNOHANG) == child.pid) {
      exited = true;
      // An orphaned rank could keep the pipe open: read what is there, then stop reading.
      if (open) {
        ::fcntl(child.output, F_SETFL, O_NONBLOCK);
        for (ssize_t n; (n = ::read(child.output, buffer, sizeof buffer)) > 0;) {
          WriteAll(2, buffer, static_cast<size_t>(n));
          tail->append(buffer, static_cast<size_t>(n));
        }
        open = false;
      }
    }
    if (exited)
      continue;
    if (!*stopped && ctx.cancel != nullptr && ctx.cancel->cancelled()) {
      spdlog::info("run: stopping the training's ranks (mpirun pid {})", child.pid);
      ::kill(child.pid, SIGTERM);
      *stopped = true;
      stop_sent = Clock::now();
    } else if (*stopped && Clock::now() - stop_sent > kStopGrace) {
      ::kill(child.pid, SIGKILL);
    }
  }
  ::close(child.output);
  return status;
}

}  // namespace

void CheckMpirunFound() {
  AIOK_CHECK(!FindOnPath("mpirun").empty(), ErrorKind::kIo,
             "ranks > 1 runs the training under mpirun, which is not on PATH: install Open MPI "
             "(Debian package openmpi-bin; scripts/setup.sh installs it) or train on one rank "
             "(--ranks 1)");
}

std::vector<std::string> MpirunCommandLine(int64_t ranks, const std::vector<std::string>& command) {
  std::vector<std::string> argv = {"mpirun"};
  // Open MPI refuses root unless told; a run as root has already chosen to be root.
  if (::geteuid() == 0)
    argv.push_back("--allow-run-as-root");
  // Every rank on this machine: shared memory between them, the runtime on loopback (a
  // sandbox may have no other interface), and no core binding, which would put each rank's
  // threads on one core.
  for (const char* arg :
       {"--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader,tcp", "--mca",
        "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo", "-np"})
    argv.push_back(arg);
  argv.push_back(std::to_string(ranks));
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

void TrainOnRanks(const RunConfig& config, int64_t batch_size, const std::string& dataset,
                  const std::string& dir, const RunContext& ctx) {
  const int64_t ranks = config.ranks;
  AIOK_CHECK(batch_size % ranks == 0, ErrorKind::kConfig,
             "ranks: {} ranks cannot share the training's global batch of {} rows evenly; set "
             "train.batch-size to a multiple of {}",
             ranks, batch_size, ranks);
  CheckMpirunFound();
  // The run's train settings as aiok train flags: those that differ from aiok train's own
  // defaults (the run's checkpoint and evaluation intervals do), the batch the run chose.
  nlohmann::json options = config.ToJson().at("train");
  options.erase("model");
  options["batch-size"] = batch_size;
  options = tune::ChangedOptions(tune::TrainDeclarations(config.train.model), options);
  options["resume"] = true;  // RunTraining cleared the directory unless it is this run's
  const int threads = std::max(1, ctx.threads / static_cast<int>(ranks));
  std::vector<std::string> command = tune::TrainCommandLine(
      tune::AiokExecutable(), config.train.model, dataset, dir, ctx.seed, threads, options);
  if (CurrentVerbosity() == Verbosity::kQuiet)
    command.push_back("-q");
  else if (CurrentVerbosity() == Verbosity::kVerbose)
    command.push_back("-v");
  const std::vector<std::string> argv = MpirunCommandLine(ranks, command);
  std::string shown;
  for (const std::string& arg : argv)
    shown += (shown.empty() ? "" : " ") + tune::ShellQuote(arg);
  spdlog::info("run: training on {} ranks: {}", ranks, shown);

  std::string tail;
  bool stopped = false;
  const int status = RunToEnd(argv, ctx, &tail, &stopped);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (ok)
    return;
  if (stopped || (ctx.cancel != nullptr && ctx.cancel->cancelled()))
    Throw(ErrorKind::kCancelled,
          "the training on {} ranks was stopped; run again to resume from its last checkpoint "
          "in {}/checkpoint",
          ranks, dir);
  const std::string how = WIFEXITED(status)
                              ? fmt::format("mpirun exited with code {}", WEXITSTATUS(status))
                              : fmt::format("mpirun was killed by signal {}", WTERMSIG(status));
  const std::vector<std::string> lines = FailureLines(tail);
  std::string said;
  for (const std::string& line : lines)
    said += (said.empty() ? "" : "; ") + line;
  Throw(lines.empty() ? ErrorKind::kIo : KindOf(lines.front()),
        "the training on {} ranks failed ({}): {}", ranks, how,
        said.empty() ? "it printed nothing" : said);
}

}  // namespace aiok::workflow
