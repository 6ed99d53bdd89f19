// Typed column batches with validity: what every reader of raw tables (text, Parquet) hands
// to the ETL, predict and serve. One column per schema field, in schema order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aiok/core/uninitialized_vector.h"
#include "aiok/data/schema.h"

namespace aiok::data {

/// A line left out under OnError::kSkip.
struct RejectedRecord {
  int64_t record = 0;  ///< 1-based record (data row) number in the file, header not counted
  int64_t line = 0;    ///< 1-based physical line where the record starts
  std::string reason;  ///< the same text the kFail error would carry
};

/// The values of one field for a batch of rows. Scalars: one value per row. Lists: the
/// element values of all rows back to back, row r's being [list_offsets[r], list_offsets[r+1]).
/// A missing value (or missing list) has valid[r] == 0 and an unspecified value (an empty list).
struct ColumnValues {
  FieldType type;
  UninitializedVector<uint8_t> valid;   ///< per row
  UninitializedVector<int64_t> ints;    ///< kInt64, kTimestamp (seconds since the epoch)
  UninitializedVector<uint64_t> uints;  ///< kUInt64
  UninitializedVector<double> reals;    ///< kFloat64
  std::string bytes;                    ///< kString: every value's bytes, back to back
  std::vector<uint32_t> ends;           ///< kString: value i is bytes[ends[i-1], ends[i])
  std::vector<int64_t> list_offsets;    ///< lists: [rows + 1]

  /// Number of values (rows for scalars, elements for lists).
  size_t values() const;
  std::string_view string(size_t i) const {
    const uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(bytes).substr(begin, ends[i] - begin);
  }
};

/// Drops every value past the first `rows` rows of `column` (a row that turned out bad half
/// way through, for readers that store values as they parse them).
void TruncateToRows(ColumnValues* column, size_t rows);

/// Rows parsed from one part of a file.
struct TableBatch {
  int64_t first_row = 0;  ///< 0-based index of the first accepted row in the whole file
  int64_t rows = 0;       ///< accepted rows
  std::vector<ColumnValues> columns;  ///< per schema field
  std::vector<RejectedRecord> rejects;

  // Filled while parsing: records seen (accepted and rejected) and physical lines spanned, and
  // the first record's number in the file (1-based).
  int64_t records = 0;
  int64_t lines = 0;
  int64_t first_record = 1;

  /// The 0-based record index of each accepted row (rejected records skipped).
  std::vector<int64_t> RowRecords() const;
};

}  // namespace aiok::data
