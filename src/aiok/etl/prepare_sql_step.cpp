// The `sql:` prepare step: a field computed by DuckDB from the row's own columns
// (etl/prepare_sql.h), written into the table and computed again at serving.
#include <fmt/format.h>

#include "aiok/core/error.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/etl/prepare_sql.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::etl {
namespace {

class SqlStep final : public PrepareStep {
 public:
  const char* name() const override { return "sql"; }
  const char* summary() const override {
    return "adds a field computed by DuckDB from the row's own columns (one SQL expression, "
           "e.g. \"price / greatest(days, 1)\"); integers and booleans are stored as int64, "
           "floats and decimals as float64. The expression must be computable from the row "
           "alone: aggregates, window functions, subqueries, other tables and functions like "
           "random() or now() are refused, as are the label and weight";
  }
  PrepareServing serving() const override { return PrepareServing::kComputed; }
  bool changes_rows() const override { return false; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Text("output", &output_, {}, "the field written");
    v.Text("expr", &expr_, {}, "SQL expression (DuckDB) over the row's columns");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(!output_.empty() && !expr_.empty(), ErrorKind::kConfig,
               "{}: options 'output' and 'expr' are required, like {{output: price_per_day, "
               "expr: \"price / greatest(days, 1)\"}}",
               where);
  }
  std::vector<std::string> Outputs() const override { return {output_}; }
  const std::string& expression() const { return expr_; }
  const std::string& output() const { return output_; }

  void Apply(PrepareSession& session, const std::string& output) override {
    const SqlExpression expression(expr_, session.columns(), session.where());
    for (const std::string& input : expression.inputs()) {
      AIOK_CHECK(!session.IsTarget(input), ErrorKind::kConfig,
                 "{}: the expression \"{}\" reads '{}', the label or weight: serving has no "
                 "label, and a feature made of it would leak the answer",
                 session.where(), expr_, input);
    }
    session.RunOnEveryRow(
        expression.StoredValue(), fmt::format("the expression \"{}\"", expr_),
        [&](const std::string& table) {
          return fmt::format("CREATE TABLE {} AS SELECT *, {} AS {} FROM {} ORDER BY __row",
                             output, expression.StoredValue(), data::SqlName(output_), table);
        });
  }

 private:
  std::string output_;
  std::string expr_;
};

}  // namespace

void RegisterExpressionSteps(PrepareRegistry& registry) {
  registry.Register("sql", [] { return std::make_unique<SqlStep>(); });
}

}  // namespace aiok::etl
