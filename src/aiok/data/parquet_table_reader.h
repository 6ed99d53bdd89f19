// Parquet (and anything else DuckDB reads) into the same typed column batches as the text
// reader: each schema field is read by name, as text, and parsed with the text reader's value
// parsers, so that a value means the same whatever the file format, and a bad value is named
// by row and field like a bad text field. NULLs are missing values; list columns are lists.
// Two exceptions to "as text", for files pandas writes: an integer field stored as
// FLOAT/DOUBLE/DECIMAL is read as a number (NaN missing, a fraction an error), and an integer
// column feeding a hex id field is read as the decimal number it is.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "aiok/core/context.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/data/text_table_reader.h"

namespace aiok::data {

/// Rows per batch handed to the callbacks.
constexpr int64_t kParquetTableBatchRows = 65536;

/// Reads `path` (Parquet) with `schema`; fields with role ignored are not read. Same callbacks
/// and errors as ReadTextTable; a field missing from the file is an Error(kInvalidInput)
/// naming it and the file's columns.
TextReadSummary ReadParquetTable(const std::string& path, const TableSchema& schema,
                                 OnError on_error, const RunContext& ctx,
                                 const std::function<void(TableBatch&)>& in_order,
                                 const std::function<void(TableBatch&, int64_t)>& concurrently = nullptr);

/// Whether `path` names a Parquet file (by its "PAR1" magic bytes).
bool IsParquetFile(const std::string& path);

/// Rows in a Parquet file (from its metadata). Throws Error(kIo) for a missing file and
/// Error(kInvalidInput) for a file DuckDB cannot read as Parquet.
int64_t CountParquetRows(const std::string& path, int threads);

/// Reads a text or Parquet file (by its magic bytes) with `schema`.
TextReadSummary ReadTable(const std::string& path, const TableSchema& schema,
                          const TextReadOptions& options, const RunContext& ctx,
                          const std::function<void(TableBatch&)>& in_order,
                          const std::function<void(TableBatch&, int64_t)>& concurrently = nullptr);

}  // namespace aiok::data
