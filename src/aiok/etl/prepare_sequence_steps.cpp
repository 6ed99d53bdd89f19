// Prepare steps over each user's events in time order: difference_lag, collapse_history (the
// behaviour history DIEN reads) and negative_sample. Ties in time are broken by table order,
// so every result is defined; a row's history never holds the row itself or a later event.
#include <fmt/format.h>

#include "aiok/core/error.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::etl {
namespace {

// A user's events in time order, ties by table order.
std::string UserWindow(const std::string& user, const std::string& seconds) {
  return fmt::format("PARTITION BY {} ORDER BY {} ASC NULLS LAST, __row", SqlName(user), seconds);
}

class DifferenceLagStep final : public PrepareStep {
 public:
  const char* name() const override { return "difference_lag"; }
  const char* summary() const override {
    return "seconds since the user's previous event (time order, ties by table order); missing "
           "for a user's first event and for rows without a user or time. At serving the "
           "request carries it as an input field";
  }
  PrepareServing serving() const override { return PrepareServing::kRequestFields; }
  bool changes_rows() const override { return false; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Text("user", &user_, {}, "the user column");
    v.Text("time", &time_, {}, "the time column (a timestamp, or a number of seconds)");
    v.Text("output", &output_, {}, "the field written");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(!user_.empty() && !time_.empty(), ErrorKind::kConfig,
               "{}: options 'user' and 'time' are required", where);
  }
  std::vector<std::string> Outputs() const override { return {output_}; }
  void Apply(PrepareSession& session, const std::string& output) override {
    session.ColumnType(user_, "user");
    std::string table;
    const std::string seconds = session.TimeSeconds(time_, &table);
    session.Run(fmt::format("CREATE TABLE {} AS SELECT * EXCLUDE (__t), CASE WHEN {} IS NULL "
                            "THEN NULL ELSE __t - lag(__t) OVER ({}) END AS {} FROM (SELECT *, {} "
                            "AS __t FROM {}) ORDER BY __row",
                            output, SqlName(user_), UserWindow(user_, "__t"), SqlName(output_),
                            seconds, table),
                "computing the lag");
  }

 private:
  std::string user_;
  std::string time_;
  std::string output_ = "secs_since_prev";
};

class CollapseHistoryStep final : public PrepareStep {
 public:
  const char* name() const override { return "collapse_history"; }
  const char* summary() const override {
    return "per user, the items columns' values of the user's events strictly before each "
           "event (time order, ties by table order), oldest first, the latest 'max' of them, as "
           "list fields PREFIX+COLUMN (role sequence). Only events whose items are all present "
           "count, and with 'label' only positive ones (clicks). Rows with a shorter history "
           "than 'min' are dropped. At serving the request carries the histories";
  }
  PrepareServing serving() const override { return PrepareServing::kRequestFields; }
  bool changes_rows() const override { return min_ > 0; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Text("user", &user_, {}, "the user column");
    v.Text("time", &time_, {}, "the time column (a timestamp, or a number of seconds)");
    v.Names("items", &items_, true, "columns whose values make the histories (item, category)");
    v.Int("min", &min_, 0, kNoIntLimit, "rows with a shorter history are dropped");
    v.Int("max", &max_, 1, int64_t{1} << 20, "the most recent events kept");
    v.Text("label", &label_, {}, "only events with label = positive count (empty: every event)");
    v.Text("positive", &positive_, {}, "the label value of a clicked event");
    v.Text("prefix", &prefix_, {}, "the history fields are PREFIX + column");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(!user_.empty() && !time_.empty(), ErrorKind::kConfig,
               "{}: options 'user' and 'time' are required", where);
    AIOK_CHECK(min_ <= max_, ErrorKind::kConfig, "{}: min {} is above max {}", where, min_, max_);
    AIOK_CHECK(!prefix_.empty(), ErrorKind::kConfig, "{}: prefix must not be empty", where);
  }
  std::vector<std::string> Outputs() const override { return SequenceOutputs(); }
  std::vector<std::string> SequenceOutputs() const override {
    std::vector<std::string> names;
    for (const std::string& item : items_)
      names.push_back(prefix_ + item);
    return names;
  }

  void Apply(PrepareSession& session, const std::string& output) override {
    session.ColumnType(user_, "user");
    std::string counted = "true";
    for (const std::string& item : items_) {
      const std::string& type = session.ColumnType(item, "items");
      AIOK_CHECK(type.find('[') == std::string::npos, ErrorKind::kConfig,
                 "{}: items: '{}' is a list column; histories are made of single values",
                 session.where(), item);
      counted += fmt::format(" AND {} IS NOT NULL", SqlName(item));
    }
    if (!label_.empty()) {
      const std::string& type = session.ColumnType(label_, "label");
      counted += fmt::format(" AND {} = TRY_CAST({} AS {})", SqlName(label_),
                             data::SqlString(positive_), type);
    }
    std::string table;
    const std::string seconds = session.TimeSeconds(time_, &table);
    // Every earlier event, or only the last `max` rows when every event counts (cheaper).
    const std::string frame = label_.empty() && counted == "true"
                                  ? fmt::format("ROWS BETWEEN {} PRECEDING AND 1 PRECEDING", max_)
                                  : "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING";
    std::string lists;
    std::string trimmed;
    for (const std::string& item : items_) {
      const std::string field = SqlName(prefix_ + item);
      lists += fmt::format(
          ", CASE WHEN {} IS NULL THEN NULL ELSE coalesce(list({}) FILTER "
          "(WHERE {}) OVER w, []) END AS {}",
          SqlName(user_), SqlName(item), counted, field);
      trimmed += fmt::format(
          ", CASE WHEN len({0}) > {1} THEN {0}[len({0}) - {1} + 1:] ELSE {0} "
          "END AS {0}",
          field, max_);
    }
    for (const std::string& name : SequenceOutputs()) {
      for (const PrepareColumn& column : session.columns()) {
        AIOK_CHECK(column.name != name, ErrorKind::kConfig,
                   "{}: the history field '{}' is already a column of the table; set another "
                   "prefix",
                   session.where(), name);
      }
    }
    const std::string first = SqlName(prefix_ + items_[0]);
    const std::string histories = fmt::format(
        "(SELECT * EXCLUDE ({}){} FROM (SELECT * EXCLUDE (__t){} FROM (SELECT *, {} "
        "AS __t FROM {}) WINDOW w AS ({} {})){})",
        SqlNames(SequenceOutputs()), trimmed, lists, seconds, table, UserWindow(user_, "__t"),
        frame, min_ > 0 ? fmt::format(" WHERE coalesce(len({}), 0) >= {}", first, min_) : "");
    session.Run(fmt::format("CREATE TABLE {} AS {}", output,
                            min_ > 0 ? RenumberedSelect(histories, "__row")
                                     : "SELECT * FROM " + histories + " ORDER BY __row"),
                "collecting the histories");
  }

 private:
  std::string user_;
  std::string time_;
  std::vector<std::string> items_;
  int64_t min_ = 0;
  int64_t max_ = 50;
  std::string label_;
  std::string positive_ = "1";
  std::string prefix_ = "hist_";
};

class NegativeSampleStep final : public PrepareStep {
 public:
  const char* name() const override { return "negative_sample"; }
  const char* summary() const override {
    return "after each positive row, k copies with another item drawn from the table's items "
           "(uniformly, or by how many rows have each), its side columns taken from the item's "
           "first row, and the negative label; a draw is a hash of (seed, row, k), and an item "
           "equal to the positive's is replaced by the next item in item order";
  }
  PrepareServing serving() const override { return PrepareServing::kNotServed; }
  bool changes_rows() const override { return true; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Int("k", &k_, 1, 1000, "negatives per positive row");
    v.Text("item", &item_, {}, "the item column");
    v.Text("by", &by_, {"popularity", "uniform"}, "how items are drawn");
    v.Names("side", &side_, false, "columns that describe the item (e.g. its category)");
    v.Text("label", &label_, {}, "the label column");
    v.Text("positive", &positive_, {}, "the label value of a positive row");
    v.Text("negative", &negative_, {}, "the label value written on the negatives");
    v.Int("seed", &seed_, 0, kNoIntLimit, "seed of the draws");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(!item_.empty(), ErrorKind::kConfig, "{}: option 'item' is required", where);
  }

  void Apply(PrepareSession& session, const std::string& output) override {
    const std::string& item_type = session.ColumnType(item_, "item");
    AIOK_CHECK(item_type.find('[') == std::string::npos, ErrorKind::kConfig,
               "{}: item: '{}' is a list column", session.where(), item_);
    for (const std::string& column : side_)
      session.ColumnType(column, "side");
    const std::string& label_type = session.ColumnType(label_, "label");
    const std::string input = session.input();
    const std::string items = output + "_items";
    // The dictionary: each item once, in item order, with its rows counted and its side values
    // from its first row.
    std::string side_first;
    for (const std::string& column : side_)
      side_first += fmt::format(", arg_min({0}, __row) AS {0}", SqlName(column));
    session.Run(fmt::format("CREATE TABLE {0} AS SELECT *, CAST(row_number() OVER (ORDER BY "
                            "__item) - 1 AS BIGINT) AS __index, sum(__count) OVER (ORDER BY "
                            "__item) - __count AS __start FROM (SELECT {1} AS __item, count(*) "
                            "AS __count{2} FROM {3} WHERE {1} IS NOT NULL GROUP BY {1})",
                            items, SqlName(item_), side_first, input),
                "counting the items");
    const std::string counts = session.QueryText(
        fmt::format("SELECT count(*) || ' ' || sum(__count) FROM {}", items), "counting the items");
    const int64_t n = std::stoll(counts.substr(0, counts.find(' ')));
    AIOK_CHECK(n >= 2, ErrorKind::kInvalidInput,
               "{}: the column '{}' holds {} distinct item(s); negatives need at least 2",
               session.where(), item_, n);
    const int64_t total = std::stoll(counts.substr(counts.find(' ') + 1));
    const std::string positive =
        fmt::format("coalesce({} = TRY_CAST({} AS {}), false)", SqlName(label_),
                    data::SqlString(positive_), label_type);
    const std::string negative_value =
        fmt::format("CAST({} AS {})", data::SqlString(negative_), label_type);
    // Each positive row's k draws: an index into the dictionary (uniform), or the item whose
    // range of row counts holds a uniform draw over all rows (popularity).
    const std::string u = fmt::format("aiok_unit(CAST({} AS UBIGINT), p.__row * {} + d.j, {})",
                                      seed_, k_, kNegativeStream);
    const std::string draws = output + "_draws";
    if (by_ == "uniform") {
      session.Run(fmt::format("CREATE TABLE {} AS SELECT p.__row AS __source, d.j AS __j, "
                              "p.{} AS __positive, CAST(floor({} * {}) AS BIGINT) AS __drawn "
                              "FROM {} p, range({}) d(j) WHERE {}",
                              draws, SqlName(item_), u, n, input, k_, positive),
                  "drawing negatives");
    } else {
      session.Run(fmt::format("CREATE TABLE {0} AS SELECT q.__source, q.__j, q.__positive, "
                              "i.__index AS __drawn FROM (SELECT p.__row AS __source, d.j AS __j, "
                              "p.{1} AS __positive, CAST(floor({2} * {3}) AS BIGINT) AS __target "
                              "FROM {4} p, range({5}) d(j) WHERE {6}) q ASOF JOIN {7} i ON "
                              "q.__target >= i.__start",
                              draws, SqlName(item_), u, total, input, k_, positive, items),
                  "drawing negatives");
    }
    std::string replaced = SqlName(item_);
    for (const std::string& column : side_)
      replaced += ", " + SqlName(column);
    std::string chosen = fmt::format("i.__item AS {}", SqlName(item_));
    for (const std::string& column : side_)
      chosen += fmt::format(", i.{0} AS {0}", SqlName(column));
    // A draw equal to the positive's item moves to the next item in item order. Negatives
    // follow their positive row, in draw order.
    const std::string rows = fmt::format(
        "(SELECT *, 0 AS __j FROM {0} UNION ALL BY NAME SELECT p.* EXCLUDE ({1}, {2}), {3}, {4} "
        "AS {2}, d.__j + 1 AS __j FROM {5} d JOIN {0} p ON p.__row = d.__source JOIN {6} first "
        "ON first.__index = d.__drawn JOIN {6} i ON i.__index = CASE WHEN first.__item = "
        "d.__positive THEN (d.__drawn + 1) % {7} ELSE d.__drawn END)",
        input, replaced, SqlName(label_), chosen, negative_value, draws, items, n);
    session.Run(fmt::format("CREATE TABLE {} AS {}", output, RenumberedSelect(rows, "__row, __j")),
                "writing the negatives");
    session.Run(fmt::format("ALTER TABLE {} DROP COLUMN __j", output), "writing the negatives");
    session.Run("DROP TABLE " + draws, "dropping the draws");
    session.Run("DROP TABLE " + items, "dropping the items");
  }

 private:
  static constexpr int kNegativeStream = 2;
  int64_t k_ = 1;
  std::string item_;
  std::string by_ = "popularity";
  std::vector<std::string> side_;
  std::string label_ = "label";
  std::string positive_ = "1";
  std::string negative_ = "0";
  int64_t seed_ = 0;
};

}  // namespace

void RegisterSequenceSteps(PrepareRegistry& registry) {
  registry.Register("difference_lag", [] { return std::make_unique<DifferenceLagStep>(); });
  registry.Register("collapse_history", [] { return std::make_unique<CollapseHistoryStep>(); });
  registry.Register("negative_sample", [] { return std::make_unique<NegativeSampleStep>(); });
}

}  // namespace aiok::etl
