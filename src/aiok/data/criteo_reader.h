// Streaming, multi-threaded reader of Criteo TSV files (criteo_layout.h). The file is cut into
// byte ranges at line starts; threads parse ranges into columnar batches, which reach the
// caller in file order with absolute line numbers. Bad lines either stop the read with an
// error naming file, line, column and what was expected, or are handed back as rejects —
// never dropped silently.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/core/uninitialized_vector.h"
#include "aiok/data/criteo_layout.h"
#include "aiok/data/on_error.h"

namespace aiok::data {


/// Whether lines start with the label field.
enum class LabelField {
  kPresent,  ///< 40 fields: label, I1..I13, C1..C26
  kAbsent,   ///< 39 fields: I1..I13, C1..C26 (rows to score)
  kDetect,   ///< decided by the field count of the first line
};

/// Stored for an empty integer field.
constexpr int64_t kMissingDense = std::numeric_limits<int64_t>::min();
/// Stored for an empty categorical field (valid values are 0 .. 2^32-1).
constexpr int64_t kMissingCategory = -1;

/// A line left out under OnError::kSkip.
struct RejectedLine {
  int64_t line = 0;    ///< 1-based line number in the file
  std::string reason;  ///< the same text the kFail error would carry
};

/// Rows parsed from one byte range of the file, column by column.
struct CriteoBatch {
  int64_t first_row = 0;  ///< 0-based index of the first accepted row in the whole file
  int64_t rows = 0;       ///< accepted rows in this batch
  UninitializedVector<uint8_t> label;  ///< empty when the file has no label field
  std::array<UninitializedVector<int64_t>, kCriteoDense> dense;  ///< kMissingDense if empty
  std::array<UninitializedVector<int64_t>, kCriteoCategorical>
      category;                       ///< kMissingCategory if empty
  std::vector<RejectedLine> rejects;  ///< in line order

  // Filled while parsing: lines seen in this range, and the first line's number within it.
  int64_t lines = 0;
  int64_t first_line = 1;
};

struct CriteoReaderOptions {
  LabelField label = LabelField::kDetect;
  OnError on_error = OnError::kFail;
  /// Bytes per parallel range (a batch holds the lines that start inside one range).
  int64_t range_bytes = int64_t{4} << 20;
};

/// What a finished read saw.
struct CriteoReadSummary {
  int64_t lines = 0;     ///< lines in the file
  int64_t rows = 0;      ///< accepted rows
  int64_t rejected = 0;  ///< rejected lines (kSkip only)
  int64_t bytes = 0;
  bool has_label = false;
};

/// Reads `path`, calling `in_order` once per batch in file order (never concurrently), then —
/// if given — `concurrently` for the same batch, outside the ordering, while other threads
/// parse and consume other batches; its second argument numbers the batches 0, 1, ... in file
/// order. Heavy work belongs in `concurrently`. Either may move data out of the batch. Throws
/// Error(kIo) for a missing or unreadable file, Error(kInvalidInput) for an empty file or
/// (kFail) the first bad line.
CriteoReadSummary ReadCriteoTsv(
    const std::string& path, const CriteoReaderOptions& options, const RunContext& ctx,
    const std::function<void(CriteoBatch&)>& in_order,
    const std::function<void(CriteoBatch&, int64_t)>& concurrently = nullptr);

/// The 0-based source line of each accepted row of a numbered batch (rejects skipped).
std::vector<int64_t> RowLines(const CriteoBatch& batch);

/// Gives a parsed batch its place in the file — first line and row numbers, rejects' line
/// numbers made absolute — and counts it into `summary`. Readers call it in file order.
void NumberBatch(CriteoBatch& batch, CriteoReadSummary* summary);

/// Parses Criteo TSV lines held in memory (each ending in '\n') with the parser ReadCriteoTsv
/// uses, into `batch`, lines numbered from 1. Under kFail the first bad line throws
/// Error(kInvalidInput) naming `source`, the line and the column; under kSkip it is a reject.
void ParseCriteoText(std::string_view text, bool has_label, OnError on_error,
                     const std::string& source, CriteoBatch* batch);

/// Number of batches ReadCriteoTsv makes of a file of `bytes` bytes.
int64_t CriteoBatchCount(int64_t bytes, const CriteoReaderOptions& options);

}  // namespace aiok::data
