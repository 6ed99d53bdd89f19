// Opening input files, and reading and writing at an offset of an open file, all of the bytes
// or an Error(kIo) that names the file: for readers and spill files that several threads use
// at once (pread/pwrite do not move a shared file position).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace aiok {

/// Opens `path` read-only and returns its descriptor, with its size in `size`. Throws
/// Error(kIo) naming the path if it cannot be opened or is not a regular file.
int OpenRegularFile(const std::string& path, size_t* size);

/// Reads bytes [offset, offset + n) of `fd` (the file `path`) into `out`.
void ReadAt(int fd, const std::string& path, size_t offset, size_t n, void* out);

/// Writes `n` bytes of `data` at `offset` of `fd` (the file `path`).
void WriteAt(int fd, const std::string& path, size_t offset, size_t n, const void* data);

}  // namespace aiok
