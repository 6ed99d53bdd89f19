// Reads Criteo-layout rows from a Parquet file through DuckDB: columns label, I1..I13 and
// C1..C26 by name (any order, other columns ignored). I columns may be integers, floats
// holding whole numbers (as pandas writes integer columns with gaps) or decimal strings;
// C columns hex strings or integers; NULL, NaN and "" are missing. Batches reach the caller
// as from ReadCriteoTsv, with row numbers (1-based) in place of line numbers.
#pragma once

#include <string>

#include "aiok/data/criteo_reader.h"

namespace aiok::data {

/// Rows per batch.
constexpr int64_t kParquetBatchRows = 65536;

/// Rows in a Parquet file (from its metadata). Throws Error(kIo) for a missing file and
/// Error(kInvalidInput) for a file DuckDB cannot read as Parquet.
int64_t CountParquetRows(const std::string& path, int threads);

/// Reads `path`; see ReadCriteoTsv for the callbacks and errors. A missing Criteo column
/// throws Error(kInvalidInput) naming the file and every missing column.
CriteoReadSummary ReadCriteoParquet(
    const std::string& path, const CriteoReaderOptions& options, const RunContext& ctx,
    const std::function<void(CriteoBatch&)>& in_order,
    const std::function<void(CriteoBatch&, int64_t)>& concurrently = nullptr);

/// Whether `path` names a Parquet file (by its "PAR1" magic bytes).
bool IsParquetFile(const std::string& path);

}  // namespace aiok::data
