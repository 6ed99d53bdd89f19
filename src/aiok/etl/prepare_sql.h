// A row expression in DuckDB's SQL: the `sql:` prepare step (a field computed from the row's
// own columns, for what no operator covers) and the same computation at serving time.
//
// An expression must be computable from one row alone, because `aiok predict` and `aiok serve`
// compute it on the rows they are given: aggregates, window functions, subqueries, other
// tables, unnest, aiok's ETL-only functions, the hidden columns and functions whose value
// changes from run to run (random(), now()) are refused when the ETL runs, naming the step,
// the expression and why. The check runs the expression through a DuckDB of its own that
// holds nothing but a table of the columns it reads — the environment serving gives it — and
// reads DuckDB's parse tree (json_serialize_sql) and plan (EXPLAIN): one expression, no
// clauses, a plan of a projection over a scan.
//
// Results take one of aiok's types (BIGINT for integers and booleans, UBIGINT, DOUBLE for
// floats and decimals, VARCHAR, TIMESTAMP, or a list of one), written as such into the
// prepared table; serving reads them as text and parses them with the field's type, as the
// ETL's Parquet reader reads the prepared table, so a computed value is the trained one.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::etl {

/// A checked row expression.
struct RowExpression {
  std::string sql;                    ///< the expression as SQL to embed (RowSql)
  std::vector<PrepareColumn> inputs;  ///< the columns it reads, in the order of the table's
  std::string type;                   ///< DuckDB's type of its values ("BOOLEAN", "DOUBLE")
};

/// Checks that `expression` is one SQL expression computed from a row of `columns` alone (no
/// clause, second statement, window, subquery, aggregate, volatile function, aiok_ function
/// or hidden column; bound and planned in a DuckDB holding only a table of those columns).
/// Throws Error(kConfig) naming `where`, the expression and, for a refused one, `why` a row
/// alone must do (e.g. "serving computes it on the request's row").
RowExpression CheckRowExpression(const std::string& expression,
                                 const std::vector<PrepareColumn>& columns,
                                 const std::string& where, const std::string& why);

/// `expression` in parentheses, with a newline before the closing one (a trailing line
/// comment must not swallow what follows), to embed in a larger statement.
std::string RowSql(const std::string& expression);

class SqlExpression {
 public:
  /// Checks `expression` over a row of `columns` (name and DuckDB type; the columns a row
  /// has) and binds it. Throws Error(kConfig) naming `where` and the expression: DuckDB's
  /// message for an expression that does not parse or bind, or why it is not a row
  /// expression.
  SqlExpression(std::string expression, const std::vector<PrepareColumn>& columns,
                std::string where);
  ~SqlExpression();
  SqlExpression(const SqlExpression&) = delete;
  SqlExpression& operator=(const SqlExpression&) = delete;

  const std::string& expression() const { return expression_; }
  /// The columns it reads, in the order of `columns`.
  const std::vector<std::string>& inputs() const { return inputs_; }
  /// The DuckDB type of its values as the prepared table stores them.
  const std::string& type() const { return type_; }
  /// SQL of the stored value (the expression cast to type()), over a table with the columns.
  std::string StoredValue() const;

  /// The expression's value for every row of `batch`, whose columns are `schema`'s fields, as
  /// a column of `out` type (the prepared schema's type of the field written). Safe to call
  /// from several threads at once (each call takes a DuckDB of its own from a pool). Throws
  /// Error(kInvalidInput) naming the step and the expression when DuckDB fails on the
  /// values, or a value does not parse as `out`.
  data::ColumnValues Compute(const data::TableBatch& batch, const data::TableSchema& schema,
                             const data::FieldType& out) const;

 public:
  /// A DuckDB that computes the expression (prepare_sql.cpp).
  struct Session;

 private:
  std::unique_ptr<Session> NewSession(const data::TableSchema& schema) const;

  std::string expression_;
  std::string where_;
  std::vector<PrepareColumn> columns_;  // the inputs' names and types
  std::vector<std::string> inputs_;
  std::string type_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Session>> idle_;
};

}  // namespace aiok::etl
