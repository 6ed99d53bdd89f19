// A Criteo-layout input of either format — TSV (Kaggle train.txt) or Parquet — behind one
// face, so that the ETL and prediction read both the same way.
#pragma once

#include <string>

#include "aiok/data/criteo_reader.h"

namespace aiok::data {

class CriteoSource {
 public:
  /// Opens `path`: Parquet when it starts with Parquet's magic bytes, TSV otherwise.
  /// Counts the rows of a Parquet file (from its metadata); a TSV file is not read.
  /// Throws Error(kIo) for a missing file.
  CriteoSource(std::string path, int threads);

  const std::string& path() const { return path_; }
  /// "criteo-tsv" or "parquet".
  const std::string& format() const { return format_; }
  /// Rows (Parquet, exact) or lines (TSV, estimated from the first lines' length, for a
  /// progress display: counting them exactly would mean reading the file once more). The
  /// exact count is the summary's `lines` after Read().
  int64_t EstimatedRecords() const { return records_; }
  /// Batches Read() will make.
  int64_t BatchCount(const CriteoReaderOptions& options) const;
  /// Reads the input; see ReadCriteoTsv.
  CriteoReadSummary Read(const CriteoReaderOptions& options, const RunContext& ctx,
                         const std::function<void(CriteoBatch&)>& in_order,
                         const std::function<void(CriteoBatch&, int64_t)>& concurrently) const;

 private:
  std::string path_;
  std::string format_;
  int64_t records_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace aiok::data
