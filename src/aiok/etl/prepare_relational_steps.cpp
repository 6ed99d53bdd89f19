// Prepare steps over other tables: join (a side table) and groupby_aggregate (statistics of
// the train rows per key, joined back). Both leave a lookup for serving, which applies them to
// each row by key.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"
#include "aiok/core/suggest.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::etl {
namespace {

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<std::string> NamesOf(const std::vector<PrepareColumn>& columns) {
  std::vector<std::string> names;
  for (const PrepareColumn& column : columns)
    names.push_back(column.name);
  return names;
}

// "a.k1 = b.k1 AND a.k2 = b.k2"
std::string KeysEqual(const std::vector<std::string>& keys, const std::string& a,
                      const std::string& b) {
  std::string out;
  for (const std::string& key : keys)
    out += fmt::format("{}{}.{} = {}.{}", out.empty() ? "" : " AND ", a, data::SqlName(key), b,
                       data::SqlName(key));
  return out;
}

class JoinStep final : public PrepareStep {
 public:
  const char* name() const override { return "join"; }
  const char* summary() const override {
    return "adds columns of a side table (CSV/TSV or Parquet) by key, one side row per key; "
           "left keeps every row (missing values where no key matches), inner only matching "
           "rows. A side table below the memory budget is joined as a broadcast hash table, a "
           "larger one partition by partition (-v says which). At serving: a left lookup in a "
           "copy of the side table";
  }
  PrepareServing serving() const override { return PrepareServing::kLookup; }
  bool changes_rows() const override { return how_ == "inner"; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Text("table", &table_, {}, "the side table's file (relative to the pipeline file)");
    v.Names("on", &on_, true, "key columns, named the same in both tables");
    v.Text("how", &how_, {"left", "inner"}, "left or inner");
    v.Names("columns", &columns_, false, "side table columns to add (default: all but the keys)");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(!table_.empty(), ErrorKind::kConfig, "{}: option 'table' is required", where);
  }
  std::vector<std::string> Outputs() const override { return columns_; }

  void Apply(PrepareSession& session, const std::string& output) override {
    const std::string side = output + "_side";
    int64_t bytes = 0;
    const std::vector<PrepareColumn> side_columns = session.LoadSideTable(table_, side, &bytes);
    const std::vector<std::string> side_names = NamesOf(side_columns);
    const std::vector<std::string> main_names = NamesOf(session.columns());
    std::string keys_cast;
    for (const std::string& key : on_) {
      const std::string& type = session.ColumnType(key, "on");
      AIOK_CHECK(Contains(side_names, key), ErrorKind::kConfig,
                 "{}: the join key '{}' is missing from the side table {}{} (its columns: {})",
                 session.where(), key, table_, DidYouMean(key, side_names),
                 fmt::join(side_names, ", "));
      // Side keys take the table's key types, so both sides compare (and hash) the same
      // values; a side key that is not such a value never matches.
      keys_cast +=
          fmt::format("TRY_CAST({} AS {}) AS {}, ", data::SqlName(key), type, data::SqlName(key));
    }
    if (columns_.empty()) {
      for (const std::string& name : side_names) {
        if (!Contains(on_, name))
          columns_.push_back(name);
      }
    }
    for (const std::string& column : columns_) {
      AIOK_CHECK(Contains(side_names, column), ErrorKind::kConfig,
                 "{}: columns: '{}' is not a column of the side table {}{} (its columns: {})",
                 session.where(), column, table_, DidYouMean(column, side_names),
                 fmt::join(side_names, ", "));
      AIOK_CHECK(!Contains(on_, column), ErrorKind::kConfig,
                 "{}: columns: '{}' is a join key; keys are not added twice", session.where(),
                 column);
      AIOK_CHECK(!Contains(main_names, column), ErrorKind::kConfig,
                 "{}: the side table's column '{}' is already a column of the table; pick the "
                 "columns to add with columns: [...]",
                 session.where(), column);
    }
    const std::string keyed = output + "_keyed";
    std::string not_null;
    for (const std::string& key : on_)
      not_null +=
          fmt::format("{}{} IS NOT NULL", not_null.empty() ? "" : " AND ", data::SqlName(key));
    session.Run(fmt::format("CREATE TABLE {} AS SELECT * FROM (SELECT {}{}, __record FROM {}) "
                            "WHERE {}",
                            keyed, keys_cast, data::SqlNames(columns_), side, not_null),
                "reading the side table's keys");
    session.Run("DROP TABLE " + side, "dropping the side table");
    // One side row per key: a lookup at serving finds one row, and the join must not
    // duplicate rows.
    const std::string duplicate = session.QueryText(
        fmt::format("SELECT concat_ws(', ', {}, 'records ' || string_agg(CAST(__record AS "
                    "VARCHAR), ' and ' ORDER BY __record)) FROM (SELECT *, count(*) OVER "
                    "(PARTITION BY {}) AS n FROM {}) WHERE n > 1 GROUP BY {} ORDER BY "
                    "min(__record) LIMIT 1",
                    KeyTexts(), data::SqlNames(on_), keyed, data::SqlNames(on_)),
        "checking the side table's keys");
    AIOK_CHECK(duplicate.empty(), ErrorKind::kInvalidInput,
               "{}: the side table {} has more than one row for the key {}: a join takes one "
               "side row per key",
               session.where(), table_, duplicate);

    const std::string select =
        fmt::format("SELECT m.*{}{} FROM {{}} m {} JOIN {{}} s ON {}", columns_.empty() ? "" : ", ",
                    data::SqlNames(columns_, "s."), how_ == "inner" ? "INNER" : "LEFT",
                    KeysEqual(on_, "m", "s"));
    const int64_t budget = session.memory_budget();
    if (bytes < budget) {
      spdlog::debug(
          "{}: join with {}: broadcast hash join ({} MB side table, memory budget {} "
          "MB)",
          session.where(), table_, bytes >> 20, budget >> 20);
      session.Run(
          fmt::format(
              "CREATE TABLE {} AS {}", output,
              RenumberedSelect("(" + fmt::format(select, session.input(), keyed) + ")", "__row")),
          "joining");
    } else {
      // Partitions of the side table that fit half the budget each; each joins only the
      // table's rows of the same key hash, so no hash table outgrows memory.
      const int64_t partitions =
          std::max<int64_t>(2, static_cast<int64_t>(std::ceil(2.0 * bytes / budget)));
      spdlog::debug(
          "{}: join with {}: partitioned hash join, {} partitions ({} MB side table, "
          "memory budget {} MB; spills to the staging directory)",
          session.where(), table_, partitions, bytes >> 20, budget >> 20);
      const std::string parts = output + "_parts";
      auto part = [&](const std::string& table, int64_t p) {
        return fmt::format("(SELECT * FROM {} WHERE hash({}) % {} = {})", table,
                           data::SqlNames(on_), partitions, p);
      };
      for (int64_t p = 0; p < partitions; ++p) {
        const std::string joined = fmt::format(select, part(session.input(), p), part(keyed, p));
        session.Run(p == 0 ? fmt::format("CREATE TABLE {} AS {}", parts, joined)
                           : fmt::format("INSERT INTO {} {}", parts, joined),
                    fmt::format("joining partition {} of {}", p + 1, partitions));
      }
      session.Run(fmt::format("CREATE TABLE {} AS {}", output, RenumberedSelect(parts, "__row")),
                  "joining the partitions");
      session.Run("DROP TABLE " + parts, "dropping the partitions");
    }
    PrepareLookup lookup;
    lookup.op = name();
    lookup.keys = on_;
    lookup.values = columns_;
    session.SaveLookup(
        fmt::format("SELECT {}, {} FROM {}", data::SqlNames(on_), data::SqlNames(columns_), keyed),
        lookup);
    session.Run("DROP TABLE " + keyed, "dropping the side table");
  }

 private:
  // "item_id=5" for the message about a duplicate key, as SQL.
  std::string KeyTexts() const {
    std::string out;
    for (const std::string& key : on_) {
      out += fmt::format("{}{} || CAST({} AS VARCHAR)", out.empty() ? "" : ", ",
                         data::SqlString(key + "="), data::SqlName(key));
    }
    return out;
  }

  std::string table_;
  std::vector<std::string> on_;
  std::string how_ = "left";
  std::vector<std::string> columns_;
};

const std::vector<std::string>& AggregateNames() {
  static const std::vector<std::string> names = {"count", "sum", "mean", "min", "max", "nunique"};
  return names;
}

class GroupbyAggregateStep final : public PrepareStep {
 public:
  const char* name() const override { return "groupby_aggregate"; }
  const char* summary() const override {
    return "per key, statistics of columns over the train split's rows (count and nunique of "
           "present values, sum, mean, min, max), joined back to every row as new fields named "
           "KEYS_COLUMN_STAT (a key no train row has: count 0, the others missing). Must come "
           "after every step that changes rows (the split is over the prepared table). At "
           "serving: a lookup of the fitted statistics";
  }
  PrepareServing serving() const override { return PrepareServing::kLookup; }
  bool changes_rows() const override { return false; }
  bool uses_train_split() const override { return true; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Names("by", &by_, true, "key columns");
    v.NameLists("aggs", &aggs_, AggregateNames(), "statistics per column");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(!aggs_.empty(), ErrorKind::kConfig,
               "{}: option 'aggs' is required, like {{price: [mean, max]}}", where);
  }
  std::vector<std::string> Outputs() const override {
    std::vector<std::string> names;
    for (const auto& [column, stats] : aggs_) {
      for (const std::string& stat : stats)
        names.push_back(OutputName(column, stat));
    }
    return names;
  }

  void Apply(PrepareSession& session, const std::string& output) override {
    // Statistics of the label per key, joined back to the train rows they came from, are
    // in-sample target encoding: a user with one train row gets its own label. The weight is
    // the label's companion; a key made of either splits rows by their answer.
    auto refuse_target = [&](const std::string& column, const char* option) {
      AIOK_CHECK(!session.IsTarget(column), ErrorKind::kConfig,
                 "{}: {}: '{}' is the label or weight; statistics of it per key would give each "
                 "train row its own answer. For the label's mean per key, use the column step "
                 "target_encode (out of fold on train rows)",
                 session.where(), option, column);
    };
    for (const std::string& key : by_) {
      session.ColumnType(key, "by");
      refuse_target(key, "by");
    }
    std::string stats_select;
    std::string joined_select;
    PrepareLookup lookup;
    lookup.op = name();
    lookup.keys = by_;
    for (const auto& [column, stats] : aggs_) {
      const std::string& type = session.ColumnType(column, "aggs");
      refuse_target(column, "aggs");
      const bool numeric = data::IsDuckNumericType(type);
      for (const std::string& stat : stats) {
        const std::string out = OutputName(column, stat);
        AIOK_CHECK(numeric || (stat != "sum" && stat != "mean"), ErrorKind::kConfig,
                   "{}: aggs: {} of column '{}' needs numbers, but it holds {}", session.where(),
                   stat, column, type);
        AIOK_CHECK(type.find('[') == std::string::npos || stat == "count", ErrorKind::kConfig,
                   "{}: aggs: {} of the list column '{}' is not supported (count is)",
                   session.where(), stat, column);
        const std::string c = data::SqlName(column);
        const std::string expression = stat == "count"     ? fmt::format("count({})", c)
                                       : stat == "nunique" ? fmt::format("count(DISTINCT {})", c)
                                       : stat == "sum"  ? fmt::format("CAST(sum({}) AS DOUBLE)", c)
                                       : stat == "mean" ? fmt::format("CAST(avg({}) AS DOUBLE)", c)
                                                        : fmt::format("{}({})", stat, c);
        stats_select += fmt::format(", {} AS {}", expression, data::SqlName(out));
        const bool counts = stat == "count" || stat == "nunique";
        joined_select += counts ? fmt::format(", coalesce(s.{0}, 0) AS {0}", data::SqlName(out))
                                : fmt::format(", s.{}", data::SqlName(out));
        lookup.values.push_back(out);
        if (counts)
          lookup.zero_if_absent.push_back(out);
      }
    }
    std::string keys_present;
    for (const std::string& key : by_)
      keys_present += fmt::format(" AND {} IS NOT NULL", data::SqlName(key));
    const std::string stats = output + "_stats";
    session.Run(fmt::format("CREATE TABLE {} AS SELECT {}{} FROM {} WHERE {}{} GROUP BY {}", stats,
                            data::SqlNames(by_), stats_select, session.input(),
                            session.TrainPredicate(), keys_present, data::SqlNames(by_)),
                "computing the statistics");
    session.Run(
        fmt::format("CREATE TABLE {} AS SELECT m.*{} FROM {} m LEFT JOIN {} s ON {} "
                    "ORDER BY m.__row",
                    output, joined_select, session.input(), stats, KeysEqual(by_, "m", "s")),
        "joining the statistics");
    session.SaveLookup("SELECT * FROM " + stats, lookup);
    session.Run("DROP TABLE " + stats, "dropping the statistics");
  }

 private:
  std::string OutputName(const std::string& column, const std::string& stat) const {
    return fmt::format("{}_{}_{}", fmt::join(by_, "_"), column, stat);
  }

  std::vector<std::string> by_;
  std::vector<std::pair<std::string, std::vector<std::string>>> aggs_;
};

}  // namespace

void RegisterRelationalSteps(PrepareRegistry& registry) {
  registry.Register("join", [] { return std::make_unique<JoinStep>(); });
  registry.Register("groupby_aggregate", [] { return std::make_unique<GroupbyAggregateStep>(); });
}

}  // namespace aiok::etl
