#include "aiok/core/positional_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "aiok/core/error.h"

namespace aiok {
namespace {

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  return "not a file";
}

}  // namespace

int OpenRegularFile(const std::string& path, size_t* size) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever. It has
  // no effect on a regular file, and anything else is refused before it is read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    Throw(ErrorKind::kIo, "cannot open '{}': {}", path, std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    Throw(ErrorKind::kIo, "cannot open '{}': {}", path, std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    Throw(ErrorKind::kIo, "'{}' is not a regular file ({}): aiok reads only regular files", path,
          FileTypeName(info.st_mode));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  *size = static_cast<size_t>(info.st_size);
  return fd;
}

void CheckRegularFile(const std::string& path) {
  size_t size = 0;
  ::close(OpenRegularFile(path, &size));
}

void ReadAt(int fd, const std::string& path, size_t offset, size_t n, void* out) {
  auto* bytes = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t got = ::pread(fd, bytes, n, static_cast<off_t>(offset));
    if (got <= 0) {
      Throw(ErrorKind::kIo, "cannot read '{}' at byte {}: {}", path, offset,
            got < 0 ? std::strerror(errno) : "the file is shorter than expected");
    }
    bytes += got;
    offset += static_cast<size_t>(got);
    n -= static_cast<size_t>(got);
  }
}

void WriteAt(int fd, const std::string& path, size_t offset, size_t n, const void* data) {
  const auto* bytes = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t put = ::pwrite(fd, bytes, n, static_cast<off_t>(offset));
    if (put <= 0) {
      Throw(ErrorKind::kIo, "cannot write '{}' at byte {}: {}", path, offset,
            put < 0 ? std::strerror(errno) : "no byte written");
    }
    bytes += put;
    offset += static_cast<size_t>(put);
    n -= static_cast<size_t>(put);
  }
}

bool IsSameFile(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

ReadOnlyFile::ReadOnlyFile(std::string path)
    : path_(std::move(path)), fd_(OpenRegularFile(path_, &size_)) {}

ReadOnlyFile::~ReadOnlyFile() { ::close(fd_); }

}  // namespace aiok
