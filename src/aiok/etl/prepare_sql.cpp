#include "aiok/etl/prepare_sql.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "aiok/core/error.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/text_table_reader.h"
#include "aiok/etl/prepare_table_loader.h"

namespace aiok::etl {
namespace {

constexpr const char* kRowsTable = "__rows";

// The type the prepared table stores for a value of DuckDB type `type`; "" when aiok has no
// such type.
std::string StoredType(const std::string& type) {
  if (type.size() > 2 && type.compare(type.size() - 2, 2, "[]") == 0) {
    const std::string element = StoredType(type.substr(0, type.size() - 2));
    return element.empty() || element.back() == ']' ? "" : element + "[]";
  }
  // Integers that fit int64 (and booleans) as int64, UBIGINT as uint64 (ids), wider integers
  // and the rest of the numbers as float64.
  if (type == "UBIGINT")
    return "UBIGINT";
  if (type == "BOOLEAN" ||
      (data::IsDuckIntegerType(type) && type != "HUGEINT" && type != "UHUGEINT"))
    return "BIGINT";
  if (data::IsDuckNumericType(type))
    return "DOUBLE";
  if (type == "VARCHAR")
    return "VARCHAR";
  if (type.rfind("TIMESTAMP", 0) == 0 || type == "DATE")
    return "TIMESTAMP";
  return "";
}

// Calls `visit` on every object in `json`, depth first.
void Walk(const nlohmann::json& json, const std::function<void(const nlohmann::json&)>& visit) {
  if (json.is_object()) {
    visit(json);
    for (const auto& [key, value] : json.items())
      Walk(value, visit);
  } else if (json.is_array()) {
    for (const auto& value : json)
      Walk(value, visit);
  }
}

// Column `column` (VARCHAR) of the first row of `sql` ("" for NULL or no row).
std::string Text(data::DuckDb& db, const std::string& sql, const std::string& context,
                 size_t column = 0) {
  return db.Query(sql, context).FirstText(column);
}

// The operators of an EXPLAIN (FORMAT JSON) plan.
void PlanOperators(const nlohmann::json& plan, std::vector<std::string>* names) {
  Walk(plan, [&](const nlohmann::json& node) {
    const auto it = node.find("name");
    if (it != node.end() && it->is_string()) {
      std::string name = it->get<std::string>();
      name.erase(name.find_last_not_of(' ') + 1);
      names->push_back(name);
    }
  });
}

}  // namespace

// A DuckDB of its own, for one caller at a time, where the table function aiok_request_rows()
// scans the columns of the batch being computed in place (no copy, no write: appending the
// rows to a table and deleting them again cost 3-8x the query) and a prepared statement
// computes the expression over it.
struct SqlExpression::Session {
  data::DuckDb db{1};
  duckdb_prepared_statement statement = nullptr;
  // What aiok_request_rows() scans: the batch's `fields` columns, of `types`.
  const data::TableBatch* batch = nullptr;
  std::vector<size_t> fields;
  std::vector<std::string> names;
  std::vector<data::FieldType> types;
  ~Session() { duckdb_destroy_prepare(&statement); }
};

namespace {

using Session = SqlExpression::Session;

void RowsBind(duckdb_bind_info info) {
  const auto* session = static_cast<const Session*>(duckdb_bind_get_extra_info(info));
  duckdb_logical_type row = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
  duckdb_bind_add_result_column(info, kRowColumn, row);
  duckdb_destroy_logical_type(&row);
  for (size_t c = 0; c < session->names.size(); ++c) {
    duckdb_logical_type type = NewDuckType(session->types[c]);
    duckdb_bind_add_result_column(info, session->names[c].c_str(), type);
    duckdb_destroy_logical_type(&type);
  }
}

void RowsInit(duckdb_init_info info) {
  duckdb_init_set_init_data(info, new int64_t(0),
                            [](void* cursor) { delete static_cast<int64_t*>(cursor); });
  duckdb_init_set_max_threads(info, 1);
}

void RowsScan(duckdb_function_info info, duckdb_data_chunk output) {
  const auto* session = static_cast<const Session*>(duckdb_function_get_extra_info(info));
  auto* cursor = static_cast<int64_t*>(duckdb_function_get_init_data(info));
  const int64_t rows = session->batch ? session->batch->rows : 0;
  const auto n = static_cast<size_t>(
      std::min<int64_t>(rows - *cursor, static_cast<int64_t>(duckdb_vector_size())));
  const auto begin = static_cast<size_t>(*cursor);
  auto* row =
      static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(output, 0)));
  for (size_t r = 0; r < n; ++r)
    row[r] = static_cast<int64_t>(begin + r);
  for (size_t c = 0; c < session->fields.size(); ++c) {
    ChunkAppender::Fill(session->batch->columns[session->fields[c]], begin, n,
                        duckdb_data_chunk_get_vector(output, c + 1));
  }
  duckdb_data_chunk_set_size(output, n);
  *cursor += static_cast<int64_t>(n);
}

}  // namespace

RowExpression CheckRowExpression(const std::string& expression,
                                 const std::vector<PrepareColumn>& columns,
                                 const std::string& where, const std::string& why) {
  const std::string shown = fmt::format("the expression \"{}\"", expression);
  auto refuse = [&](const std::string& reason) {
    Throw(ErrorKind::kConfig, "{}: {} must be computed from the row alone ({}): {}", where, shown,
          why, reason);
  };
  data::DuckDb db(1);
  // One expression and nothing else: parsed as the select list of a SELECT without clauses.
  // The newline ends a trailing line comment, as RowSql's does where the expression is used.
  const std::string tree_text =
      Text(db, "SELECT json_serialize_sql(" + data::SqlString("SELECT " + expression + "\n") + ")",
           where + ": parsing " + shown);
  const nlohmann::json tree = nlohmann::json::parse(tree_text, nullptr, false);
  AIOK_ASSERT(tree.is_object());
  if (tree.value("error", false)) {
    Throw(ErrorKind::kConfig, "{}: {} does not parse: {}", where, shown,
          tree.value("error_message", std::string("(no message)")));
  }
  const nlohmann::json& statements = tree.at("statements");
  const bool one =
      statements.size() == 1 && statements[0].at("node").value("type", "") == "SELECT_NODE";
  const nlohmann::json& node = one ? statements[0].at("node") : nlohmann::json();
  const bool bare = one && node.at("select_list").size() == 1 &&
                    node.at("from_table").value("type", "") == "EMPTY" &&
                    node.at("where_clause").is_null() && node.at("group_expressions").empty() &&
                    node.at("having").is_null() && node.at("qualify").is_null() &&
                    node.at("modifiers").empty() && node.at("cte_map").at("map").empty();
  AIOK_CHECK(bare, ErrorKind::kConfig,
             "{}: {} must be one SQL expression (like \"price / greatest(days, 1)\"), without "
             "clauses, other statements or a second expression",
             where, shown);
  std::set<std::string> referenced;
  std::set<std::string> functions;
  Walk(node.at("select_list"), [&](const nlohmann::json& item) {
    const std::string kind = item.value("class", "");
    if (kind == "COLUMN_REF") {
      for (const auto& name : item.at("column_names"))
        referenced.insert(name.get<std::string>());
    } else if (kind == "FUNCTION" || kind == "WINDOW") {
      functions.insert(item.value("function_name", ""));
    }
    if (kind == "WINDOW")
      refuse(fmt::format("{} is a window function (it reads other rows)",
                         item.value("function_name", "")));
    if (kind == "SUBQUERY")
      refuse("a subquery reads other rows or tables");
  });
  for (const std::string& name : {std::string(kRowColumn), std::string(kRecordColumn)}) {
    if (referenced.count(name))
      refuse(fmt::format("{} is a column of the ETL's table only", name));
  }
  for (const std::string& name : functions) {
    if (name.rfind("aiok_", 0) == 0)
      refuse(fmt::format("{}() exists only while the ETL runs", name));
  }
  // Aggregates and functions whose value changes between runs (random(), now()): by
  // DuckDB's catalog.
  if (!functions.empty()) {
    std::string names;
    for (const std::string& name : functions)
      names += (names.empty() ? "" : ", ") + data::SqlString(name);
    data::DuckResult kinds =
        db.Query(fmt::format("SELECT function_name, string_agg(DISTINCT function_type, ','), "
                             "string_agg(DISTINCT stability, ',') FROM duckdb_functions() WHERE "
                             "function_name IN ({}) GROUP BY function_name ORDER BY function_name",
                             names),
                 where + ": looking up the functions of " + shown);
    for (data::DuckChunk chunk(kinds.NextChunk()); chunk;
         chunk = data::DuckChunk(kinds.NextChunk())) {
      for (idx_t r = 0; r < chunk.rows(); ++r) {
        const std::string name(data::DuckTextAt(chunk.column(0), r));
        const std::string types(data::DuckTextAt(chunk.column(1), r));
        const std::string stability(data::DuckTextAt(chunk.column(2), r));
        if (types == "aggregate")
          refuse(
              fmt::format("{}() is an aggregate (for statistics per key, use "
                          "groupby_aggregate)",
                          name));
        if (stability.find("VOLATILE") != std::string::npos ||
            stability.find("CONSISTENT_WITHIN_QUERY") != std::string::npos)
          refuse(fmt::format("{}() gives another value each time it runs", name));
      }
    }
  }
  RowExpression out;
  out.sql = RowSql(expression);
  for (const PrepareColumn& column : columns) {
    if (referenced.count(column.name))
      out.inputs.push_back(column);
  }
  // Bound over a table of just those columns: another table or a column the row lacks fails
  // here with DuckDB's message.
  std::string table = "__row BIGINT, __record BIGINT";
  for (const PrepareColumn& column : out.inputs)
    table += fmt::format(", {} {}", data::SqlName(column.name), column.type);
  db.Query(fmt::format("CREATE TABLE {} ({})", kRowsTable, table), where + ": " + shown);
  try {
    out.type = Text(db,
                    fmt::format("SELECT CAST(column_type AS VARCHAR) FROM (DESCRIBE SELECT {} "
                                "AS __value FROM {})",
                                out.sql, kRowsTable),
                    "binding");
  } catch (const Error& e) {
    std::vector<std::string> names;
    for (const PrepareColumn& column : columns)
      names.push_back(column.name);
    Throw(ErrorKind::kConfig, "{}: {} cannot be computed from the row's columns ({}): {}", where,
          shown, fmt::join(names, ", "), e.what());
  }
  const std::string plan_text =
      Text(db, fmt::format("EXPLAIN (FORMAT JSON) SELECT {} FROM {}", out.sql, kRowsTable),
           where + ": planning " + shown, /*column=*/1);
  std::vector<std::string> operators;
  PlanOperators(nlohmann::json::parse(plan_text, nullptr, false), &operators);
  for (const std::string& op : operators) {
    if (op != "PROJECTION" && op != "SEQ_SCAN" && op != "TABLE_SCAN")
      refuse(
          fmt::format("DuckDB plans it with {} (aggregates, window functions, subqueries, "
                      "other tables and unnest read more than the row)",
                      op));
  }
  return out;
}

std::string RowSql(const std::string& expression) { return "(" + expression + "\n)"; }

SqlExpression::SqlExpression(std::string expression, const std::vector<PrepareColumn>& columns,
                             std::string where)
    : expression_(std::move(expression)), where_(std::move(where)) {
  const RowExpression checked =
      CheckRowExpression(expression_, columns, where_, "serving computes it on the request's row");
  columns_ = checked.inputs;
  for (const PrepareColumn& column : columns_)
    inputs_.push_back(column.name);
  type_ = StoredType(checked.type);
  AIOK_CHECK(!type_.empty(), ErrorKind::kConfig,
             "{}: the expression \"{}\" gives values of type {}; a field holds integers, floats, "
             "text, timestamps or a list of one of them (cast it, e.g. CAST(... AS VARCHAR))",
             where_, expression_, checked.type);
}

SqlExpression::~SqlExpression() = default;

std::string SqlExpression::StoredValue() const {
  return fmt::format("CAST({} AS {})", RowSql(expression_), type_);
}

std::unique_ptr<SqlExpression::Session> SqlExpression::NewSession(
    const data::TableSchema& schema) const {
  auto session = std::make_unique<Session>();
  for (const std::string& name : inputs_) {
    const int index = schema.Find(name);
    AIOK_CHECK(index >= 0, ErrorKind::kInvalidInput,
               "{}: the expression \"{}\" reads '{}', which is not a field of the input", where_,
               expression_, name);
    session->fields.push_back(static_cast<size_t>(index));
    session->names.push_back(name);
    session->types.push_back(schema.fields[static_cast<size_t>(index)].type);
  }
  duckdb_table_function function = duckdb_create_table_function();
  duckdb_table_function_set_name(function, "aiok_request_rows");
  duckdb_table_function_set_extra_info(function, session.get(), nullptr);
  duckdb_table_function_set_bind(function, RowsBind);
  duckdb_table_function_set_init(function, RowsInit);
  duckdb_table_function_set_function(function, RowsScan);
  const duckdb_state state = duckdb_register_table_function(session->db.connection(), function);
  duckdb_destroy_table_function(&function);
  AIOK_CHECK(state == DuckDBSuccess, ErrorKind::kInternal,
             "cannot register aiok_request_rows with DuckDB");
  const bool list = type_.back() == ']';
  // As text, as the ETL's Parquet reader reads the stored value.
  const std::string sql = fmt::format("SELECT {}, CAST({} AS {}) FROM aiok_request_rows()",
                                      kRowColumn, StoredValue(), list ? "VARCHAR[]" : "VARCHAR");
  if (duckdb_prepare(session->db.connection(), sql.c_str(), &session->statement) != DuckDBSuccess) {
    Throw(ErrorKind::kInvalidInput,
          "{}: the expression \"{}\" cannot be computed from the "
          "input's fields: {}",
          where_, expression_, duckdb_prepare_error(session->statement));
  }
  return session;
}

data::ColumnValues SqlExpression::Compute(const data::TableBatch& batch,
                                          const data::TableSchema& schema,
                                          const data::FieldType& out) const {
  AIOK_CHECK(out.list == (type_.back() == ']'), ErrorKind::kInvalidInput,
             "{}: the expression \"{}\" gives {}, but the input schema's field is {}", where_,
             expression_, type_, out.Name());
  std::unique_ptr<Session> session;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      session = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!session)
    session = NewSession(schema);
  session->batch = &batch;
  data::ColumnValues column;
  column.type = out;
  if (out.list)
    column.list_offsets.push_back(0);
  auto fail = [&](const std::string& why) {
    Throw(ErrorKind::kInvalidInput, "{}: the expression \"{}\": {}", where_, expression_, why);
  };
  duckdb_result result;
  if (duckdb_execute_prepared(session->statement, &result) != DuckDBSuccess) {
    const std::string message = duckdb_result_error(&result);
    duckdb_destroy_result(&result);
    fail(message);
  }
  struct ResultGuard {
    duckdb_result* result;
    ~ResultGuard() { duckdb_destroy_result(result); }
  } guard{&result};
  int64_t row = 0;
  for (data::DuckChunk chunk(duckdb_fetch_chunk(result)); chunk;
       chunk = data::DuckChunk(duckdb_fetch_chunk(result))) {
    // One thread scans and projects, so rows come in order; checked, not assumed.
    const auto* rows = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)));
    duckdb_vector vector = chunk.column(1);
    for (idx_t r = 0; r < chunk.rows(); ++r, ++row) {
      AIOK_CHECK(rows[r] == row, ErrorKind::kInternal, "{}: DuckDB returned row {} as row {}",
                 where_, rows[r], row);
      const bool valid = data::DuckValidAt(vector, r);
      column.valid.push_back(valid ? 1 : 0);
      auto parse = [&](std::string_view text) {
        if (const char* expected = data::ParseValue(text, out, &column))
          fail(fmt::format("row {}: expected {}, found '{}'", row, expected, text));
      };
      if (!out.list) {
        // A missing value keeps the readers' place-holder.
        parse(valid ? data::DuckTextAt(vector, r)
                    : std::string_view(out.value == data::ValueType::kString ? "" : "0"));
        continue;
      }
      if (valid) {
        const auto* entries = static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vector));
        duckdb_vector child = duckdb_list_vector_get_child(vector);
        for (idx_t i = entries[r].offset; i < entries[r].offset + entries[r].length; ++i) {
          if (!data::DuckValidAt(child, i))
            fail(fmt::format("row {}: a list with a NULL element", row));
          parse(data::DuckTextAt(child, i));
        }
      }
      column.list_offsets.push_back(static_cast<int64_t>(column.values()));
    }
  }
  AIOK_ASSERT(row == batch.rows);
  session->batch = nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(session));
  return column;
}

}  // namespace aiok::etl
