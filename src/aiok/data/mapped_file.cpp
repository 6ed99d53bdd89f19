#include "aiok/data/mapped_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"

namespace aiok::data {

MappedFile::MappedFile(std::string path) : path_(std::move(path)) {
  const int fd = OpenRegularFile(path_, &size_);
  if (size_ > 0) {
    void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      Throw(ErrorKind::kIo, "cannot map '{}': {}", path_, std::strerror(err));
    }
    ::madvise(map, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const char*>(map);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr)
    ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace aiok::data
