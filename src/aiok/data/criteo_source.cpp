#include "aiok/data/criteo_source.h"

#include <algorithm>
#include <cmath>

#include "aiok/data/criteo_parquet_reader.h"
#include "aiok/data/mapped_file.h"

namespace aiok::data {
namespace {

// Lines in a text file, estimated from the average length of the lines in its first MiB.
int64_t EstimateLines(const MappedFile& file) {
  const size_t sample = std::min(file.size(), size_t{1} << 20);
  const auto newlines = std::count(file.data(), file.data() + sample, '\n');
  if (newlines == 0)
    return file.size() > 0 ? 1 : 0;
  const double line_bytes = static_cast<double>(sample) / static_cast<double>(newlines);
  return std::max<int64_t>(1, std::llround(static_cast<double>(file.size()) / line_bytes));
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
    records_ = EstimateLines(file);
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
