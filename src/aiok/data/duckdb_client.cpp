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

std::string DuckResult::FirstText(size_t column) {
  DuckChunk chunk(NextChunk());
  if (!chunk || chunk.rows() == 0)
    return "";
  duckdb_vector vector = chunk.column(column);
  uint64_t* validity = duckdb_vector_get_validity(vector);
  if (validity && !duckdb_validity_row_is_valid(validity, 0))
    return "";
  auto* strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
  return std::string(duckdb_string_t_data(&strings[0]), duckdb_string_t_length(strings[0]));
}

namespace {

// `text` between two `quote`s, each quote inside it doubled: SQL's escaping for both string
// literals ('...') and identifiers ("...").
std::string Enclosed(const std::string& text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    out += c;
    if (c == quote)
      out += quote;
  }
  return out + quote;
}

}  // namespace

std::string SqlString(const std::string& text) { return Enclosed(text, '\''); }

std::string SqlName(const std::string& name) { return Enclosed(name, '"'); }

std::string SqlNames(const std::vector<std::string>& names, const std::string& prefix) {
  std::string out;
  for (const std::string& name : names)
    out += (out.empty() ? "" : ", ") + prefix + SqlName(name);
  return out;
}

std::string_view DuckTextAt(duckdb_vector vector, idx_t row) {
  auto* strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
  return {duckdb_string_t_data(&strings[row]), duckdb_string_t_length(strings[row])};
}

bool DuckValidAt(duckdb_vector vector, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(vector);
  return validity == nullptr || duckdb_validity_row_is_valid(validity, row);
}

bool IsDuckIntegerType(const std::string& type) {
  static const char* kIntegers[] = {"TINYINT",  "SMALLINT",  "INTEGER",  "BIGINT",  "HUGEINT",
                                    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"};
  for (const char* name : kIntegers) {
    if (type == name)
      return true;
  }
  return false;
}

bool IsDuckNumericType(const std::string& type) {
  return IsDuckIntegerType(type) || type == "FLOAT" || type == "DOUBLE" ||
         type.rfind("DECIMAL", 0) == 0;
}

}  // namespace aiok::data
