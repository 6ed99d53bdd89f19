#include "aiok/data/duckdb_client.h"

#include "aiok/core/error.h"

namespace aiok::data {

DuckResult::~DuckResult() {
  if (valid_)
    duckdb_destroy_result(&result_);
}

DuckResult::DuckResult(DuckResult&& other) noexcept : result_(other.result_), valid_(other.valid_) {
  other.valid_ = false;
}

DuckDb::DuckDb(int threads) {
  AIOK_CHECK(duckdb_open(nullptr, &database_) == DuckDBSuccess, ErrorKind::kInternal,
             "cannot open an in-memory DuckDB database");
  if (duckdb_connect(database_, &connection_) != DuckDBSuccess) {
    duckdb_close(&database_);
    Throw(ErrorKind::kInternal, "cannot connect to DuckDB");
  }
  Query("SET threads = " + std::to_string(std::max(threads, 1)), "DuckDB setup");
}

DuckDb::~DuckDb() {
  if (connection_)
    duckdb_disconnect(&connection_);
  if (database_)
    duckdb_close(&database_);
}

DuckResult DuckDb::Query(const std::string& sql, const std::string& context) {
  DuckResult result;
  const duckdb_state state = duckdb_query(connection_, sql.c_str(), &result.result_);
  result.valid_ = true;
  if (state != DuckDBSuccess) {
    const char* message = duckdb_result_error(&result.result_);
    Throw(ErrorKind::kInvalidInput, "{}: {}", context, message ? message : "DuckDB query failed");
  }
  return result;
}

std::string SqlString(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'')
      out += '\'';
  }
  return out + "'";
}

}  // namespace aiok::data
