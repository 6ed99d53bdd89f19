#include "aiok/data/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "aiok/core/error.h"

namespace aiok::data {

MappedFile::MappedFile(std::string path, bool writable)
    : path_(std::move(path)), writable_(writable) {
  const int fd = ::open(path_.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    Throw(ErrorKind::kIo, "cannot open '{}': {}", path_, std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    Throw(ErrorKind::kIo, "'{}' is not a regular file", path_);
  }
  size_ = static_cast<size_t>(info.st_size);
  if (size_ > 0) {
    void* map = ::mmap(nullptr, size_, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                       writable ? MAP_SHARED : MAP_PRIVATE, fd, 0);
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

char* MappedFile::mutable_data() const {
  AIOK_ASSERT(writable_);
  return const_cast<char*>(data_);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr)
    ::munmap(const_cast<char*>(data_), size_);
}

void MappedFile::Populate(size_t begin, size_t end) const {
  if (data_ == nullptr)
    return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t first = begin / page * page;  // every page the range touches
  const size_t last = std::min(end, size_);
  if (last > first)
    ::madvise(const_cast<char*>(data_) + first, last - first, MADV_POPULATE_READ);
}

void MappedFile::Release(size_t begin, size_t end) const {
  if (data_ == nullptr)
    return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t first = (begin + page - 1) / page * page;  // only whole pages inside the range
  const size_t last = std::min(end, size_) / page * page;
  if (last > first)
    ::madvise(const_cast<char*>(data_) + first, last - first, MADV_DONTNEED);
}

}  // namespace aiok::data
