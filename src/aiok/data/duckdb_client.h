// A small RAII layer over DuckDB's C API: an in-memory database, queries whose failures
// become aiok::Error with DuckDB's message, and chunked results.
#pragma once

#include <duckdb.h>

#include <string>
#include <string_view>
#include <vector>

namespace aiok::data {

/// A query result; read it chunk by chunk.
class DuckResult {
 public:
  DuckResult() = default;
  ~DuckResult();
  DuckResult(DuckResult&& other) noexcept;
  DuckResult& operator=(DuckResult&&) = delete;
  DuckResult(const DuckResult&) = delete;

  duckdb_result* get() { return &result_; }
  size_t columns() { return duckdb_column_count(&result_); }
  std::string column_name(size_t i) { return duckdb_column_name(&result_, i); }
  duckdb_type column_type(size_t i) { return duckdb_column_type(&result_, i); }
  /// The next chunk, or nullptr at the end. The caller destroys it (DuckChunk does).
  duckdb_data_chunk NextChunk() { return duckdb_fetch_chunk(result_); }
  /// Column `column` (VARCHAR) of the first row of the next chunk as text: "" for NULL or no
  /// row. For queries of one value (a count cast to text, a type name).
  std::string FirstText(size_t column = 0);

 private:
  duckdb_result result_{};
  bool valid_ = false;
  friend class DuckDb;
};

/// Owns a chunk from DuckResult::NextChunk.
class DuckChunk {
 public:
  explicit DuckChunk(duckdb_data_chunk chunk) : chunk_(chunk) {}
  ~DuckChunk() {
    if (chunk_)
      duckdb_destroy_data_chunk(&chunk_);
  }
  DuckChunk(const DuckChunk&) = delete;
  DuckChunk& operator=(const DuckChunk&) = delete;
  DuckChunk& operator=(DuckChunk&& other) noexcept {
    if (this != &other) {
      if (chunk_)
        duckdb_destroy_data_chunk(&chunk_);
      chunk_ = other.chunk_;
      other.chunk_ = nullptr;
    }
    return *this;
  }
  explicit operator bool() const { return chunk_ != nullptr; }
  size_t rows() const { return duckdb_data_chunk_get_size(chunk_); }
  duckdb_vector column(size_t i) const { return duckdb_data_chunk_get_vector(chunk_, i); }

 private:
  duckdb_data_chunk chunk_;
};

/// An in-memory DuckDB database with one connection.
class DuckDb {
 public:
  /// `threads` bounds DuckDB's own worker threads.
  explicit DuckDb(int threads);
  ~DuckDb();
  DuckDb(const DuckDb&) = delete;
  DuckDb& operator=(const DuckDb&) = delete;

  /// Runs `sql`; throws Error(kind) with `context` and DuckDB's message on failure.
  DuckResult Query(const std::string& sql, const std::string& context);
  duckdb_connection connection() { return connection_; }

 private:
  duckdb_database database_ = nullptr;
  duckdb_connection connection_ = nullptr;
};

/// `text` as a single-quoted SQL string literal.
std::string SqlString(const std::string& text);
/// `name` as a double-quoted SQL identifier (a column name goes into SQL only this way).
std::string SqlName(const std::string& name);
/// Names quoted and joined by ", " (with `prefix` before each: "t.").
std::string SqlNames(const std::vector<std::string>& names, const std::string& prefix = "");

/// Row `row` of a VARCHAR vector (valid while its chunk lives).
std::string_view DuckTextAt(duckdb_vector vector, idx_t row);
/// Whether row `row` of `vector` is not NULL.
bool DuckValidAt(duckdb_vector vector, idx_t row);

/// Whether `type` (a DuckDB type name as DESCRIBE writes it) is an integer type: TINYINT to
/// HUGEINT and UTINYINT to UHUGEINT (not BOOLEAN).
bool IsDuckIntegerType(const std::string& type);
/// An integer type, FLOAT, DOUBLE or DECIMAL(w,s).
bool IsDuckNumericType(const std::string& type);

}  // namespace aiok::data
