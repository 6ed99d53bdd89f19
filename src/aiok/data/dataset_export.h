// Writing a split of a dataset directory out as TSV or Parquet: the transformed rows (label,
// dense values, categorical ids) in row order, for inspection or for other tools.
#pragma once

#include <functional>
#include <string>

namespace aiok::data {

/// Writes up to `limit` rows (all when negative) of `split` as TSV text, in pieces, through
/// `emit`; with `header`, a line of column names first.
void WriteSplitTsv(const std::string& dir, const std::string& split, int64_t limit, bool header,
                   const std::function<void(const std::string&)>& emit);

/// Writes all rows of `split` to `out` (atomically) as "tsv" or "parquet" (through DuckDB:
/// label UTINYINT, dense FLOAT, categorical INTEGER). Returns the rows written.
int64_t ExportSplit(const std::string& dir, const std::string& split, const std::string& format,
                    const std::string& out, bool header, int threads);

}  // namespace aiok::data
