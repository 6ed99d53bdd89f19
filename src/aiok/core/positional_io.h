// Opening input files, and reading and writing at an offset of an open file, all of the bytes
// or an Error(kIo) that names the file: for readers and spill files that several threads use
// at once (pread/pwrite do not move a shared file position).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace aiok {

/// Opens `path` read-only and returns its descriptor, with its size in `size`. Throws
/// Error(kIo) naming the path if it cannot be opened or is not a regular file: a FIFO, a
/// directory, a device or a socket is refused without waiting (opening a FIFO never blocks).
int OpenRegularFile(const std::string& path, size_t* size);

/// Throws as OpenRegularFile does unless `path` is a regular file that can be opened for
/// reading: for inputs handed to a library that opens them itself (libtorch, DuckDB).
void CheckRegularFile(const std::string& path);

/// Reads bytes [offset, offset + n) of `fd` (the file `path`) into `out`.
void ReadAt(int fd, const std::string& path, size_t offset, size_t n, void* out);

/// Writes `n` bytes of `data` at `offset` of `fd` (the file `path`).
void WriteAt(int fd, const std::string& path, size_t offset, size_t n, const void* data);

/// Whether `a` and `b` name the same existing file (same device and inode): a command must
/// not write its output over its own input.
bool IsSameFile(const std::string& a, const std::string& b);

/// A file read with pread, for ranges read side by side.
class ReadOnlyFile {
 public:
  /// Opens `path`; throws Error(kIo) naming it if it cannot be opened or is not a regular file.
  explicit ReadOnlyFile(std::string path);
  ~ReadOnlyFile();
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  const std::string& path() const { return path_; }
  size_t size() const { return size_; }
  /// Reads bytes [offset, offset + n), all of them.
  void Read(size_t offset, size_t n, char* out) const { ReadAt(fd_, path_, offset, n, out); }

 private:
  std::string path_;
  size_t size_ = 0;
  int fd_ = -1;
};

}  // namespace aiok
