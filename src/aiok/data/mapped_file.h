// A read-only memory map of a whole file, for parsers that scan large inputs in parallel.
#pragma once

#include <cstddef>
#include <string>

namespace aiok::data {

class MappedFile {
 public:
  /// Maps `path` read-only. Throws Error(kIo) naming the path if it cannot be opened or
  /// mapped. An empty file maps to size() == 0 and data() == nullptr.
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace aiok::data
