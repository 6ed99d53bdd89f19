// Loads a table file into DuckDB for the prepare stage through aiok's own readers (text or
// Parquet), so that values mean what they mean everywhere else in aiok (the same types, null
// tokens, hex ids, list separators and timestamps), bad records are named by line — or
// rejected under --on-error skip — exactly as the ETL would, and row order is file order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"

namespace aiok::etl {

/// The DuckDB type of a field type: BIGINT, UBIGINT, DOUBLE, VARCHAR, TIMESTAMP, or a list.
std::string DuckTypeOf(const data::FieldType& type);

struct LoadedTable {
  int64_t records = 0;  ///< records read (accepted and rejected)
  int64_t rows = 0;     ///< rows loaded
  std::vector<data::RejectedRecord> rejects;
  /// Whether every record was one line (then a record's line is its number plus the header).
  bool one_line_records = true;
};

/// Creates the DuckDB table `table` with __row (0-based, file order), __record (1-based
/// record number) and one column per field of `schema` that is not ignored, and fills it
/// from `path`.
LoadedTable LoadTable(data::DuckDb& db, const std::string& path, const data::TableSchema& schema,
                      data::OnError on_error, const RunContext& ctx, const std::string& table);

}  // namespace aiok::etl
