#include "aiok/core/output_directory.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"

namespace aiok {
namespace fs = std::filesystem;

namespace {

// The pid in a name `prefix` + digits, or -1.
long PidAfter(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
    return -1;
  long pid = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || pid > 1L << 40)
      return -1;
    pid = pid * 10 + (name[i] - '0');
  }
  return pid;
}

// Whether the canonical path `inner` is `outer` or lies under it.
bool IsWithin(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty() && std::next(o) == outer.end())
      break;  // a trailing separator
    if (i == inner.end() || *i != *o)
      return false;
  }
  return true;
}

bool ProcessIsGone(long pid) { return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

}  // namespace

std::string TemporaryPath(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid());
}

void RemoveStaleTemporaries(const std::string& path) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string base = target.filename().string();
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec)
    return;  // no directory yet: nothing left behind
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    for (const char* kind : {".tmp-", ".old-"}) {
      const long pid = PidAfter(name, base + kind);
      if (pid <= 0 || pid == ::getpid() || !ProcessIsGone(pid))
        continue;
      std::error_code removed;
      fs::remove_all(entry.path(), removed);
      if (!removed) {
        spdlog::debug("removed {}, left behind by process {}, which no longer runs",
                      entry.path().string(), pid);
      }
    }
  }
}

void CheckReplaceable(const std::string& out_dir, const std::string& marker,
                      const std::string& what) {
  if (!fs::exists(out_dir))
    return;
  AIOK_CHECK(fs::is_directory(out_dir), ErrorKind::kIo, "'{}' exists and is not a directory",
             out_dir);
  const bool empty = fs::directory_iterator(out_dir) == fs::directory_iterator();
  AIOK_CHECK(empty || fs::exists(out_dir + "/" + marker), ErrorKind::kIo,
             "refusing to replace '{}': it exists and is not {}; choose another --out or remove it",
             out_dir, what);
}

void CheckOutputKeepsInput(const std::string& input, const std::string& input_name,
                           const std::string& output, const std::string& output_name) {
  std::error_code ec;
  if (input.empty() || output.empty() || !fs::exists(input, ec))
    return;  // nothing to lose
  AIOK_CHECK(!IsSameFile(input, output), ErrorKind::kUsage,
             "{} {} is the input {} {}: writing it would replace the input", output_name, output,
             input_name, input);
  const fs::path in = fs::canonical(input, ec);
  if (ec)
    return;
  const fs::path out = fs::weakly_canonical(output, ec);
  if (ec)
    return;
  AIOK_CHECK(!IsWithin(in, out), ErrorKind::kUsage,
             "{} {} is inside {} {}, which is replaced as a whole: writing it would remove the "
             "input",
             input_name, input, output_name, output);
  AIOK_CHECK(!(fs::is_directory(in, ec) && fs::exists(out, ec) && IsWithin(out, in)),
             ErrorKind::kUsage,
             "{} {} is part of the input {} {}: writing it would replace part of the input",
             output_name, output, input_name, input);
}

StagingDirectory::StagingDirectory(std::string out_dir)
    : out_dir_(std::move(out_dir)), path_(TemporaryPath(out_dir_)) {
  RemoveStaleTemporaries(out_dir_);
  std::error_code ec;
  fs::remove_all(path_, ec);
  fs::create_directories(path_, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot create directory '{}': {}", path_, ec.message());
}

StagingDirectory::~StagingDirectory() {
  std::error_code ec;
  if (!published_)
    fs::remove_all(path_, ec);
}

void StagingDirectory::Publish() {
  const std::string old = out_dir_ + ".old-" + std::to_string(::getpid());
  std::error_code ec;
  if (fs::exists(out_dir_)) {
    fs::rename(out_dir_, old, ec);
    AIOK_CHECK(!ec, ErrorKind::kIo, "cannot move old '{}' aside: {}", out_dir_, ec.message());
  }
  fs::rename(path_, out_dir_, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot rename '{}' to '{}': {}", path_, out_dir_, ec.message());
  published_ = true;
  fs::remove_all(old, ec);
}

void PublishFile(const std::string& temp, const std::string& path) {
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    Throw(ErrorKind::kIo, "cannot rename '{}' to '{}': {}", temp, path, ec.message());
  }
}

}  // namespace aiok
