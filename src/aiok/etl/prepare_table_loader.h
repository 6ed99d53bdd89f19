// Loads a table file into DuckDB for the prepare stage through aiok's own readers (text or
// Parquet), so that values mean what they mean everywhere else in aiok (the same types, null
// tokens, hex ids, list separators and timestamps), bad records are named by line — or
// rejected under --on-error skip — exactly as the ETL would, and row order is file order.
#pragma once

#include <cstdint>
#include <memory>
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

struct DuckLogicalType;

/// Appends TableBatches to a DuckDB table of columns __row, __record and then one per field
/// appended, through data chunks whose vectors are filled directly.
class ChunkAppender {
 public:
  /// Appends the fields `fields` (indices into `schema` and into each batch's columns; empty:
  /// every field that is not ignored) of batches to `table`.
  ChunkAppender(data::DuckDb& db, const std::string& table, const data::TableSchema& schema,
                std::vector<size_t> fields = {});
  ~ChunkAppender();
  ChunkAppender(const ChunkAppender&) = delete;
  ChunkAppender& operator=(const ChunkAppender&) = delete;

  /// Appends `batch`'s rows; __row counts from `first_row`, __record is the 1-based record
  /// (for a batch without a record count, __row + 1).
  void Append(const data::TableBatch& batch, int64_t first_row);
  /// Flushes; the rows are in the table only after this.
  void Close();

  /// Rows [begin, begin + n) of `column` into the vector `out` (a data chunk's, of the
  /// column's DuckDB type), from its slot 0.
  static void Fill(const data::ColumnValues& column, size_t begin, size_t n, duckdb_vector out);

 private:
  std::string table_;
  std::vector<size_t> fields_;
  std::vector<std::unique_ptr<DuckLogicalType>> types_;
  duckdb_data_chunk chunk_ = nullptr;
  duckdb_appender appender_ = nullptr;
};

/// A new DuckDB logical type of a field type (the caller destroys it).
duckdb_logical_type NewDuckType(const data::FieldType& type);

/// Creates the DuckDB table `table` with __row (0-based, file order), __record (1-based
/// record number) and one column per field of `schema` that is not ignored, and fills it
/// from `path`.
LoadedTable LoadTable(data::DuckDb& db, const std::string& path, const data::TableSchema& schema,
                      data::OnError on_error, const RunContext& ctx, const std::string& table);

}  // namespace aiok::etl
