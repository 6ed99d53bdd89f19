// The fast reader of delimited text (CSV, TSV, any one-byte separator) for any TableSchema:
// a header or none, RFC 4180 quoting with separators, quotes ("") and newlines inside quotes,
// null tokens, trimmed spaces, CRLF, a UTF-8 BOM, list fields split by a second separator,
// and 64-bit unsigned ids. The file is cut into byte ranges that threads parse side by side
// into typed column batches; batches reach the caller in file order with absolute record
// numbers. A range is assumed to start at a record boundary; when a quoted newline makes that
// wrong, the range is parsed again from where the previous record really ended, so the
// result never depends on where the cuts fell.
//
// A bad record stops the read with an error naming file:line:column, the field, what was
// expected and what was found, or (OnError::kSkip) becomes a reject — never a silent drop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "aiok/core/context.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"

namespace aiok::data {

struct TextReadOptions {
  OnError on_error = OnError::kFail;
  /// Bytes per parallel range (a batch holds the records that start inside one range).
  int64_t range_bytes = int64_t{4} << 20;
};

/// What a finished read saw.
struct TextReadSummary {
  int64_t records = 0;   ///< data records in the file (header not counted)
  int64_t rows = 0;      ///< accepted
  int64_t rejected = 0;  ///< kSkip only
  int64_t bytes = 0;
};

/// Reads `path` with `schema` (its header, if the format has one, must name the schema's
/// fields in order). Calls `in_order` once per batch in file order (never concurrently), then
/// — if given — `concurrently` for the same batch outside the ordering with its 0-based index.
/// Throws Error(kIo) for a missing or unreadable file, Error(kInvalidInput) for an empty file,
/// a header that does not match, or (kFail) the first bad record.
TextReadSummary ReadTextTable(const std::string& path, const TableSchema& schema,
                              const TextReadOptions& options, const RunContext& ctx,
                              const std::function<void(TableBatch&)>& in_order,
                              const std::function<void(TableBatch&, int64_t)>& concurrently = nullptr);

/// Parses records held in memory (no header), numbered from 1, with the same parser. Under
/// kFail the first bad record throws Error(kInvalidInput) naming `source`, line and column.
void ParseTextTable(std::string_view text, const TableSchema& schema, OnError on_error,
                    const std::string& source, TableBatch* batch);

/// Parses one value's text (already unquoted and trimmed) as `type`'s scalar into row/value
/// `index` of `column` (sized by the caller); returns what was expected when it does not
/// parse, or nullptr. For readers that get values one by one (JSON requests, Parquet strings).
const char* ParseValue(std::string_view text, const FieldType& type, ColumnValues* column);

/// Splits the header record of `text` (its first record) with `format`; for schema inference.
std::vector<std::string> SplitHeader(std::string_view text, const TextFormat& format);

}  // namespace aiok::data
