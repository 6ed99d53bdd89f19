// Atomic file writes: data goes to a temporary name beside the target and is renamed over it
// only when complete, so a crash or an interrupt never leaves a partial file that looks done.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace aiok {

class AtomicFileWriter {
 public:
  /// Opens `path`.tmp-<pid> for writing. Throws Error(kIo) naming the path on failure.
  explicit AtomicFileWriter(std::string path);
  /// Removes the temporary file if Commit() was not called.
  ~AtomicFileWriter();

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  /// Appends bytes. Throws Error(kIo) on a short write (disk full, ...).
  void Write(const void* data, size_t size);
  void Write(std::string_view text) { Write(text.data(), text.size()); }

  /// Flushes, closes and renames the temporary file to the target path.
  void Commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  /// Bytes written so far.
  size_t size() const { return size_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  size_t size_ = 0;
  bool committed_ = false;
};

/// Writes `contents` to `path` atomically.
void WriteFileAtomic(const std::string& path, std::string_view contents);

/// Reads a whole file. Throws Error(kIo) naming the path if it cannot, or if it is not a
/// regular file (a FIFO, a directory, a device: see OpenRegularFile).
std::string ReadFile(const std::string& path);

}  // namespace aiok
