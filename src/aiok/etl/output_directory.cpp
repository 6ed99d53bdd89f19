#include "aiok/etl/output_directory.h"

#include <unistd.h>

#include <filesystem>

#include "aiok/core/error.h"

namespace aiok::etl {
namespace fs = std::filesystem;

void CheckReplaceable(const std::string& out_dir) {
  if (!fs::exists(out_dir))
    return;
  AIOK_CHECK(fs::is_directory(out_dir), ErrorKind::kIo, "'{}' exists and is not a directory",
             out_dir);
  const bool empty = fs::directory_iterator(out_dir) == fs::directory_iterator();
  AIOK_CHECK(empty || fs::exists(out_dir + "/schema.json"), ErrorKind::kIo,
             "refusing to replace '{}': it exists and is not a dataset directory", out_dir);
}

StagingDirectory::StagingDirectory(std::string out_dir)
    : out_dir_(std::move(out_dir)), path_(out_dir_ + ".tmp-" + std::to_string(getpid())) {
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
  const std::string old = out_dir_ + ".old-" + std::to_string(getpid());
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

}  // namespace aiok::etl
