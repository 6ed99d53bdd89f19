#include "aiok/data/criteo_source.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "aiok/core/threads.h"
#include "aiok/data/criteo_parquet_reader.h"
#include "aiok/data/mapped_file.h"

namespace aiok::data {
namespace {

// Lines in a text file, counting a last line without a newline: newlines counted in 64 MiB
// steps on `threads` threads, each step's pages released once scanned, so counting a file
// larger than memory does not hold it resident.
int64_t CountLines(const MappedFile& file, int threads) {
  constexpr size_t kStep = size_t{64} << 20;
  const char* data = file.data();
  const size_t size = file.size();
  const auto steps = static_cast<int64_t>((size + kStep - 1) / kStep);
  std::vector<int64_t> newlines(static_cast<size_t>(steps), 0);
  ParallelFor(steps, threads, [&](int64_t step) {
    const size_t begin = static_cast<size_t>(step) * kStep;
    const char* p = data + begin;
    const char* end = data + std::min(size, begin + kStep);
    int64_t count = 0;
    while (p < end) {
      const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
      if (nl == nullptr)
        break;
      ++count;
      p = static_cast<const char*>(nl) + 1;
    }
    newlines[static_cast<size_t>(step)] = count;
    file.Release(begin, begin + kStep);
  });
  int64_t lines = 0;
  for (int64_t count : newlines)
    lines += count;
  if (size > 0 && data[size - 1] != '\n')
    ++lines;  // a last line without a newline
  return lines;
}

}  // namespace

CriteoSource::CriteoSource(std::string path, int threads) : path_(std::move(path)) {
  const MappedFile file(path_);  // throws kIo naming a missing file
  bytes_ = static_cast<int64_t>(file.size());
  if (IsParquetFile(path_)) {
    format_ = "parquet";
    records_ = CountParquetRows(path_, threads);
  } else {
    format_ = "criteo-tsv";
    records_ = CountLines(file, threads);
  }
}

int64_t CriteoSource::BatchCount(const CriteoReaderOptions& options) const {
  if (format_ == "parquet")
    return (records_ + kParquetBatchRows - 1) / kParquetBatchRows;
  return CriteoBatchCount(bytes_, options);
}

CriteoReadSummary CriteoSource::Read(
    const CriteoReaderOptions& options, const RunContext& ctx,
    const std::function<void(CriteoBatch&)>& in_order,
    const std::function<void(CriteoBatch&, int64_t)>& concurrently) const {
  if (format_ == "parquet")
    return ReadCriteoParquet(path_, options, ctx, in_order, concurrently);
  return ReadCriteoTsv(path_, options, ctx, in_order, concurrently);
}

}  // namespace aiok::data
