// Prepare steps that choose or order rows: filter, dedupe, sample, sort. None runs at
// serving, where the rows to score are the rows given.
#include <fmt/format.h>

#include "aiok/core/error.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/etl/prepare_sql.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::etl {
namespace {

class RowStep : public PrepareStep {
 public:
  PrepareServing serving() const override { return PrepareServing::kNotServed; }
  bool changes_rows() const override { return true; }
};

class FilterStep final : public RowStep {
 public:
  const char* name() const override { return "filter"; }
  const char* summary() const override {
    return "keeps the rows for which an SQL expression over the row's columns is true (NULL "
           "counts as false); input order kept";
  }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Text("where", &where_, {}, "SQL expression (DuckDB), e.g. \"price > 0 AND user_id <> 7\"");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(!where_.empty(), ErrorKind::kConfig, "{}: option 'where' is required", where);
  }
  void Apply(PrepareSession& session, const std::string& output) override {
    // Checked as the sql step's expressions are (one expression, parse tree and catalog): no
    // second statement, clause, other table, hidden column, aiok_ function or draw that
    // differs between runs, so the rows kept are a function of each row's own values.
    const RowExpression checked =
        CheckRowExpression(where_, session.columns(), session.where(),
                           "a filter keeps a row by that row's values, the same on every run");
    AIOK_CHECK(checked.type == "BOOLEAN", ErrorKind::kConfig,
               "{}: where: the expression \"{}\" gives {}; a filter needs a condition (true or "
               "false), like \"price > 0\"",
               session.where(), where_, checked.type);
    session.RunOnEveryRow(checked.sql, fmt::format("the expression where: \"{}\"", where_),
                          [&](const std::string& table) {
                            return fmt::format(
                                "CREATE TABLE {} AS {}", output,
                                RenumberedSelect(
                                    fmt::format("(SELECT * FROM {} WHERE {})", table, checked.sql),
                                    "__row"));
                          });
  }

 private:
  std::string where_;
};

class DedupeStep final : public RowStep {
 public:
  const char* name() const override { return "dedupe"; }
  const char* summary() const override {
    return "keeps the first row (in table order) of each combination of the columns' values; "
           "missing values count as equal";
  }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Names("columns", &columns_, false, "columns that make rows duplicates (default: all)");
  }
  void Apply(PrepareSession& session, const std::string& output) override {
    std::vector<std::string> columns = columns_;
    if (columns.empty()) {
      for (const PrepareColumn& column : session.columns())
        columns.push_back(column.name);
    }
    for (const std::string& column : columns)
      session.ColumnType(column, "columns");
    session.Run(
        fmt::format("CREATE TABLE {} AS {}", output,
                    RenumberedSelect(fmt::format("(SELECT * FROM {} QUALIFY row_number() "
                                                 "OVER (PARTITION BY {} ORDER BY __row) = 1)",
                                                 session.input(), data::SqlNames(columns)),
                                     "__row")),
        "dropping duplicates");
  }

 private:
  std::vector<std::string> columns_;
};

class SampleStep final : public RowStep {
 public:
  const char* name() const override { return "sample"; }
  const char* summary() const override {
    return "keeps each row with probability 'fraction'; or, with 'negative_rate', every positive "
           "row and each other row with that probability, writing a weight column (1 for "
           "positives, 1/negative_rate for negatives) so predictions can be calibrated back. A "
           "row's draw is a hash of (seed, its position), independent of threads";
  }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Real("fraction", &fraction_, 0.0, 1.0, "fraction of rows kept (without negative_rate)");
    v.Real("negative_rate", &negative_rate_, 0.0, 1.0,
           "keep every positive and negatives with this probability (0: sample by fraction)");
    v.Text("label", &label_, {}, "negative_rate: the label column");
    v.Text("positive", &positive_, {}, "negative_rate: the label value of a positive row");
    v.Text("weight", &weight_, {}, "negative_rate: the weight column written");
    v.Int("seed", &seed_, 0, kNoIntLimit, "seed of the draws");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(negative_rate_ > 0.0 || fraction_ < 1.0, ErrorKind::kConfig,
               "{}: give fraction (below 1) or negative_rate", where);
    AIOK_CHECK(negative_rate_ == 0.0 || fraction_ == 1.0, ErrorKind::kConfig,
               "{}: fraction and negative_rate do not go together", where);
  }
  std::vector<std::string> Outputs() const override {
    return negative_rate_ > 0.0 ? std::vector<std::string>{weight_} : std::vector<std::string>{};
  }
  std::string WeightOutput() const override { return negative_rate_ > 0.0 ? weight_ : ""; }
  void Apply(PrepareSession& session, const std::string& output) override {
    const std::string draw =
        fmt::format("aiok_unit(CAST({} AS UBIGINT), __row, {})", seed_, kSampleStream);
    std::string select;
    if (negative_rate_ == 0.0) {
      select = fmt::format("(SELECT * FROM {} WHERE {} < {})", session.input(), draw, fraction_);
    } else {
      const std::string& type = session.ColumnType(label_, "label");
      for (const PrepareColumn& column : session.columns()) {
        AIOK_CHECK(column.name != weight_, ErrorKind::kConfig,
                   "{}: the weight column '{}' is already a column of the table", session.where(),
                   weight_);
      }
      const std::string positive =
          fmt::format("coalesce({} = TRY_CAST({} AS {}), false)", data::SqlName(label_),
                      data::SqlString(positive_), type);
      select = fmt::format(
          "(SELECT *, CASE WHEN {} THEN 1.0 ELSE 1.0 / {} END AS {} FROM {} WHERE {} OR {} < {})",
          positive, negative_rate_, data::SqlName(weight_), session.input(), positive, draw,
          negative_rate_);
    }
    session.Run(fmt::format("CREATE TABLE {} AS {}", output, RenumberedSelect(select, "__row")),
                "sampling");
  }

 private:
  static constexpr int kSampleStream = 1;
  double fraction_ = 1.0;
  double negative_rate_ = 0.0;
  std::string label_ = "label";
  std::string positive_ = "1";
  std::string weight_ = "sample_weight";
  int64_t seed_ = 0;
};

class SortStep final : public RowStep {
 public:
  const char* name() const override { return "sort"; }
  const char* summary() const override {
    return "orders rows by columns (missing values last); ties keep their order, so the order "
           "(and the splits by position that follow it) is defined";
  }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Names("by", &by_, true, "columns to sort by, most significant first");
    v.Flag("descending", &descending_, "largest first");
  }
  void Apply(PrepareSession& session, const std::string& output) override {
    std::string order;
    for (const std::string& column : by_) {
      session.ColumnType(column, "by");
      order +=
          fmt::format("{} {} NULLS LAST, ", data::SqlName(column), descending_ ? "DESC" : "ASC");
    }
    session.Run(fmt::format("CREATE TABLE {} AS {}", output,
                            RenumberedSelect(session.input(), order + "__row")),
                "sorting");
  }

 private:
  std::vector<std::string> by_;
  bool descending_ = false;
};

}  // namespace

void RegisterRowSteps(PrepareRegistry& registry) {
  registry.Register("filter", [] { return std::make_unique<FilterStep>(); });
  registry.Register("dedupe", [] { return std::make_unique<DedupeStep>(); });
  registry.Register("sample", [] { return std::make_unique<SampleStep>(); });
  registry.Register("sort", [] { return std::make_unique<SortStep>(); });
}

}  // namespace aiok::etl
