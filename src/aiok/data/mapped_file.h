// A read-only memory map of a whole file, for parsers that scan large inputs in parallel.
#pragma once

#include <cstddef>
#include <string>

namespace aiok::data {

class MappedFile {
 public:
  /// Maps `path` read-only, or shared and writable with `writable` (writes go to the file).
  /// Throws Error(kIo) naming the path if it cannot be opened or mapped. An empty file maps
  /// to size() == 0 and data() == nullptr.
  explicit MappedFile(std::string path, bool writable = false);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  /// The bytes, for writing; only for a writable mapping.
  char* mutable_data() const;
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  /// Maps the pages of bytes [begin, end) in one call before a scan reads them, instead of
  /// one page fault per few pages during the scan. A hint: kernels before 5.14 ignore it.
  void Populate(size_t begin, size_t end) const;

  /// Tells the kernel that bytes [begin, end) are no longer needed, so a scan over a file
  /// larger than memory does not keep it resident (and counted in RSS).
  void Release(size_t begin, size_t end) const;

 private:
  std::string path_;
  const char* data_ = nullptr;
  size_t size_ = 0;
  bool writable_ = false;
};

}  // namespace aiok::data
