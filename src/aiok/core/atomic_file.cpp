#include "aiok/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/positional_io.h"

namespace aiok {

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), temp_path_(TemporaryPath(path_)) {
  RemoveStaleTemporaries(path_);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    Throw(ErrorKind::kIo, "cannot create '{}': {}", temp_path_, std::strerror(errno));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!committed_)
    ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::Write(const void* data, size_t size) {
  AIOK_ASSERT(fd_ >= 0);
  const char* bytes = static_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd_, bytes, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      Throw(ErrorKind::kIo, "cannot write '{}' after {} bytes: {}", temp_path_, size_,
            std::strerror(errno));
    }
    bytes += n;
    left -= static_cast<size_t>(n);
    size_ += static_cast<size_t>(n);
  }
}

void AtomicFileWriter::Commit() {
  AIOK_ASSERT(fd_ >= 0 && !committed_);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    Throw(ErrorKind::kIo, "cannot close '{}': {}", temp_path_, std::strerror(errno));
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    Throw(ErrorKind::kIo, "cannot rename '{}' to '{}': {}", temp_path_, path_,
          std::strerror(errno));
  }
  committed_ = true;
}

void WriteFileAtomic(const std::string& path, std::string_view contents) {
  AtomicFileWriter writer(path);
  writer.Write(contents);
  writer.Commit();
}

std::string ReadFile(const std::string& path) {
  // Read to the end rather than to the size fstat gives: files in /proc say 0 bytes.
  size_t size = 0;
  const int fd = OpenRegularFile(path, &size);
  std::string text;
  text.reserve(size);
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      Throw(ErrorKind::kIo, "cannot read '{}': {}", path, std::strerror(error));
    }
    if (got == 0)
      break;
    text.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  return text;
}

}  // namespace aiok
