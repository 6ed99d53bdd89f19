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
  return fmt::format("PARTITION BY {} ORDER BY {} ASC NULLS LAST, __row", data::SqlName(user),
                     seconds);
}

class DifferenceLagStep final : public PrepareStep {
 public:
  const char* name() const override { return "difference_lag"; }
  const char* summary() const override {
    return "seconds since the user's previous event (time order, ties by table order; an "
           "integer time read as epoch seconds or YYMMDDHH by 'format'); missing "
           "for a user's first event and for rows without a user or time. At serving the "
           "request carries it as an input field";
  }
  PrepareServing serving() const override { return PrepareServing::kRequestFields; }
  bool changes_rows() const override { return false; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Text("user", &user_, {}, "the user column");
    v.Text("time", &time_, {}, "the time column (a timestamp, or a whole number in format)");
    v.Text("format", &format_, {"epoch", "yymmddhh"},
           "an integer time's format: epoch seconds, or Avazu's YYMMDDHH (as datetime_parts)");
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
    const std::string seconds =
        session.TimeSeconds(time_, data::ParseTimeFormat(format_, session.where()), &table);
    session.Run(fmt::format("CREATE TABLE {} AS SELECT * EXCLUDE (__t), CASE WHEN {} IS NULL "
                            "THEN NULL ELSE __t - lag(__t) OVER ({}) END AS {} FROM (SELECT *, {} "
                            "AS __t FROM {}) ORDER BY __row",
                            output, data::SqlName(user_), UserWindow(user_, "__t"),
                            data::SqlName(output_), seconds, table),
                "computing the lag");
  }

 private:
  std::string user_;
  std::string time_;
  std::string format_ = "epoch";
  std::string output_ = "secs_since_prev";
};

class CollapseHistoryStep final : public PrepareStep {
 public:
  const char* name() const override { return "collapse_history"; }
  const char* summary() const override {
    return "per user, the items columns' values of the user's events strictly before each "
           "event (time order, ties by table order), oldest first, the latest 'max' of them, as "
           "list fields PREFIX+COLUMN (role sequence). Only events whose items are all present "
           "count, and with 'label' only positive ones (clicks). A row without a user or a time "
           "has none (missing). Rows with a shorter history than 'min' are dropped. At serving "
           "the request carries the histories";
  }
  PrepareServing serving() const override { return PrepareServing::kRequestFields; }
  bool changes_rows() const override { return min_ > 0; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Text("user", &user_, {}, "the user column");
    v.Text("time", &time_, {}, "the time column (a timestamp, or a whole number in format)");
    v.Text("format", &format_, {"epoch", "yymmddhh"},
           "an integer time's format: epoch seconds, or Avazu's YYMMDDHH (as datetime_parts)");
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
      counted += fmt::format(" AND {} IS NOT NULL", data::SqlName(item));
    }
    if (!label_.empty()) {
      const std::string& type = session.ColumnType(label_, "label");
      counted += fmt::format(" AND {} = TRY_CAST({} AS {})", data::SqlName(label_),
                             data::SqlString(positive_), type);
    }
    std::string table;
    const std::string seconds =
        session.TimeSeconds(time_, data::ParseTimeFormat(format_, session.where()), &table);
    // __k: how many counted events of the user come before the row (time order, ties by table
    // order). The counted events before a row with __k = k are the counted rows with __k < k,
    // each with its own __k, so the latest `max` of them are the counted rows whose __k lies in
    // [k - max, k - 1]: a RANGE frame over __k, O(max) per row instead of every earlier event.
    // A row without a user or a time has no history: with no time, which events came before
    // it is unknown, and any of them could be its own future.
    std::string lists;
    for (const std::string& item : items_) {
      lists += fmt::format(
          ", CASE WHEN {} IS NULL OR __t IS NULL THEN NULL ELSE coalesce(list({}) FILTER "
          "(WHERE {}) OVER w, []) END AS {}",
          data::SqlName(user_), data::SqlName(item), counted, data::SqlName(prefix_ + item));
    }
    const std::string first = data::SqlName(prefix_ + items_[0]);
    const std::string numbered = fmt::format(
        "(SELECT *, CAST(coalesce(sum(CASE WHEN {} THEN 1 ELSE 0 END) OVER ({} ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT) AS __k FROM (SELECT *, {} AS __t "
        "FROM {}))",
        counted, UserWindow(user_, "__t"), seconds, table);
    const std::string histories = fmt::format(
        "(SELECT * FROM (SELECT * EXCLUDE (__t, __k){} FROM {} WINDOW w AS (PARTITION BY {} "
        "ORDER BY __k RANGE BETWEEN {} PRECEDING AND 1 PRECEDING)){})",
        lists, numbered, data::SqlName(user_), max_,
        min_ > 0 ? fmt::format(" WHERE coalesce(len({}), 0) >= {}", first, min_) : "");
    session.Run(fmt::format("CREATE TABLE {} AS {}", output,
                            min_ > 0 ? RenumberedSelect(histories, "__row")
                                     : "SELECT * FROM " + histories + " ORDER BY __row"),
                "collecting the histories");
  }

 private:
  std::string user_;
  std::string time_;
  std::string format_ = "epoch";
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
    return "after each positive row, k copies with another item drawn from the items of the "
           "train split's rows (uniformly, or by how many train rows have each), its side "
           "columns the item's first present values in train rows, and the negative label; "
           "with 'history', also a negative history per row for DIEN's auxiliary loss: for "
           "each position of the history fields, another item drawn the same way with its "
           "side values, as list fields PREFIX+FIELD aligned with them (k: 0 writes only "
           "those). A draw is a hash of (seed, row, k) or (seed, row, 2^32 + position); an item "
           "equal to the positive's (at that position) is replaced by the next item in item "
           "order. Must come after every step that changes rows (the train split is over the "
           "prepared table)";
  }
  PrepareServing serving() const override { return PrepareServing::kNotServed; }
  bool changes_rows() const override { return k_ > 0; }
  bool uses_train_split() const override { return true; }
  void VisitOptions(PrepareOptionVisitor& v) override {
    v.Int("k", &k_, 0, 1000, "negatives per positive row (0: only the negative history)");
    v.Text("item", &item_, {}, "the item column");
    v.Text("by", &by_, {"popularity", "uniform"}, "how items are drawn");
    v.Names("side", &side_, false, "columns that describe the item (e.g. its category)");
    v.Text("label", &label_, {}, "the label column");
    v.Text("positive", &positive_, {}, "the label value of a positive row");
    v.Text("negative", &negative_, {}, "the label value written on the negatives");
    v.Int("seed", &seed_, 0, kNoIntLimit, "seed of the draws");
    v.Names("history", &history_, false,
            "history list fields to draw a negative history for: first the items' history, "
            "then the histories of side columns, in side's order (e.g. [hist_item_id, "
            "hist_cat_id] with side: [cat_id])");
    v.Text("history_prefix", &history_prefix_, {},
           "the negative history fields are PREFIX + history field");
  }
  void CheckOptions(const std::string& where) const override {
    AIOK_CHECK(!item_.empty(), ErrorKind::kConfig, "{}: option 'item' is required", where);
    AIOK_CHECK(k_ > 0 || !history_.empty(), ErrorKind::kConfig,
               "{}: k is 0 and there is no history: nothing to write", where);
    AIOK_CHECK(history_.size() <= 1 + side_.size(), ErrorKind::kConfig,
               "{}: history lists {} fields, but there are only the item and {} side column(s) "
               "to align them with (history: [ITEM_HISTORY, SIDE_1_HISTORY, ...])",
               where, history_.size(), side_.size());
    AIOK_CHECK(history_.empty() || !history_prefix_.empty(), ErrorKind::kConfig,
               "{}: history_prefix must not be empty", where);
  }
  std::vector<std::string> Outputs() const override { return SequenceOutputs(); }
  std::vector<std::string> SequenceOutputs() const override {
    std::vector<std::string> names;
    for (const std::string& field : history_)
      names.push_back(history_prefix_ + field);
    return names;
  }

  void Apply(PrepareSession& session, const std::string& output) override {
    const std::string& item_type = session.ColumnType(item_, "item");
    AIOK_CHECK(item_type.find('[') == std::string::npos, ErrorKind::kConfig,
               "{}: item: '{}' is a list column", session.where(), item_);
    // The columns the history fields align with, and their types.
    std::vector<std::string> aligned = {item_};
    aligned.insert(aligned.end(), side_.begin(), side_.end());
    for (const std::string& column : side_)
      session.ColumnType(column, "side");
    for (size_t h = 0; h < history_.size(); ++h) {
      const std::string& type = session.ColumnType(history_[h], "history");
      const std::string& of = session.ColumnType(aligned[h], h == 0 ? "item" : "side");
      AIOK_CHECK(type == of + "[]", ErrorKind::kConfig,
                 "{}: history: '{}' holds {}, but it aligns with column '{}' ({}), so it must "
                 "hold {}[] (a list of its values)",
                 session.where(), history_[h], type, aligned[h], of, of);
    }
    const std::string& label_type = session.ColumnType(label_, "label");
    const std::string input = session.input();
    const std::string positive =
        fmt::format("coalesce({} = TRY_CAST({} AS {}), false)", data::SqlName(label_),
                    data::SqlString(positive_), label_type);

    // The train rows: where each row will be in the prepared table (its negatives follow every
    // earlier positive), under the split rule over that table's size.
    const int64_t positives = std::stoll(session.QueryText(
        fmt::format("SELECT CAST(count(*) AS VARCHAR) FROM {} WHERE {}", input, positive),
        "counting positives"));
    const std::string position = fmt::format(
        "CAST(__row + {} * coalesce(sum(CASE WHEN {} THEN 1 ELSE 0 END) OVER (ORDER BY __row ROWS "
        "BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT)",
        k_, positive);
    const std::string train = session.TrainPredicate("__position", session.rows() + k_ * positives);
    const std::string train_rows = output + "_train";
    session.Run(fmt::format("CREATE TABLE {} AS SELECT * FROM (SELECT *, {} AS __position FROM "
                            "{}) WHERE {}",
                            train_rows, position, input, train),
                "selecting the train rows");

    std::string table = input;
    if (!history_.empty()) {
      // Histories draw only items whose side values they need are known.
      std::string known;
      for (size_t h = 1; h < history_.size(); ++h)
        known += fmt::format(" AND {} IS NOT NULL", data::SqlName(aligned[h]));
      const Dictionary items = MakeDictionary(session, train_rows, output + "_hitems", known);
      table = output + "_history";
      DrawHistories(session, input, items, table);
      session.Run("DROP TABLE " + items.table, "dropping the items");
    }
    if (k_ == 0) {
      session.Run(fmt::format("CREATE TABLE {} AS SELECT * FROM {} ORDER BY __row", output, table),
                  "writing the negative histories");
    } else {
      const Dictionary items = MakeDictionary(session, train_rows, output + "_items", "");
      DrawRows(session, table, items, positive, label_type, output);
      session.Run("DROP TABLE " + items.table, "dropping the items");
    }
    if (table != input)
      session.Run("DROP TABLE " + table, "dropping the negative histories");
    session.Run("DROP TABLE " + train_rows, "dropping the train rows");
  }

 private:
  // The items negatives are drawn from: each item of the train rows once, in item order, with
  // its train rows counted (__count, and __start: the rows of the items before it) and its
  // side columns' first present values.
  struct Dictionary {
    std::string table;
    int64_t items = 0;
    int64_t rows = 0;
  };
  Dictionary MakeDictionary(PrepareSession& session, const std::string& train_rows,
                            const std::string& table, const std::string& known) const {
    std::string side_first;
    for (const std::string& column : side_)
      side_first += fmt::format(", arg_min({0}, __row) AS {0}", data::SqlName(column));
    session.Run(fmt::format("CREATE TABLE {0} AS SELECT *, CAST(row_number() OVER (ORDER BY "
                            "__item) - 1 AS BIGINT) AS __index, sum(__count) OVER (ORDER BY "
                            "__item) - __count AS __start FROM (SELECT {1} AS __item, count(*) "
                            "AS __count{2} FROM {3} WHERE {1} IS NOT NULL GROUP BY {1}) WHERE "
                            "true{4}",
                            table, data::SqlName(item_), side_first, train_rows, known),
                "counting the items");
    const std::string counts = session.QueryText(
        fmt::format("SELECT count(*) || ' ' || coalesce(sum(__count), 0) FROM {}", table),
        "counting the items");
    Dictionary dictionary{table, std::stoll(counts.substr(0, counts.find(' '))),
                          std::stoll(counts.substr(counts.find(' ') + 1))};
    AIOK_CHECK(dictionary.items >= 2, ErrorKind::kInvalidInput,
               "{}: the train split's rows hold {} distinct value(s) of '{}'{}; negatives need "
               "at least 2",
               session.where(), dictionary.items, item_,
               known.empty() ? "" : " with their side values known");
    return dictionary;
  }

  // `draws` (a query with __source, __positive and __u, a uniform draw) as a query adding
  // __drawn: an index into the dictionary, uniform or by popularity.
  std::string Drawn(const std::string& draws, const Dictionary& items) const {
    if (by_ == "uniform") {
      return fmt::format("(SELECT *, CAST(floor(__u * {}) AS BIGINT) AS __drawn FROM {})",
                         items.items, draws);
    }
    // The item whose range of train rows holds a uniform draw over all of them.
    return fmt::format(
        "(SELECT q.* EXCLUDE (__target), i.__index AS __drawn FROM (SELECT *, CAST(floor(__u * "
        "{}) AS BIGINT) AS __target FROM {}) q ASOF JOIN {} i ON q.__target >= i.__start)",
        items.rows, draws, items.table);
  }

  // The dictionary row chosen for a draw: the drawn one, or the next if it is the positive.
  std::string Chosen(const std::string& drawn, const Dictionary& items) const {
    return fmt::format(
        "{0} d JOIN {1} first ON first.__index = d.__drawn JOIN {1} i ON i.__index = CASE WHEN "
        "first.__item = d.__positive THEN (d.__drawn + 1) % {2} ELSE d.__drawn END",
        drawn, items.table, items.items);
  }

  // `table` = `input` plus the negative history fields.
  void DrawHistories(PrepareSession& session, const std::string& input, const Dictionary& items,
                     const std::string& table) const {
    const std::string h = data::SqlName(history_[0]);
    const std::string draws = fmt::format(
        "(SELECT *, aiok_unit(CAST({} AS UBIGINT), __source, {} + __pos) AS __u FROM (SELECT "
        "__row AS __source, unnest({}) AS __positive, CAST(generate_subscripts({}, 1) - 1 AS "
        "BIGINT) AS __pos FROM {} WHERE {} IS NOT NULL))",
        seed_, kHistoryStream, h, h, input, h);
    std::string lists;
    std::string columns;
    for (size_t f = 0; f < history_.size(); ++f) {
      const std::string column = f == 0 ? "__item" : data::SqlName(side_[f - 1]);
      const std::string out = data::SqlName(history_prefix_ + history_[f]);
      lists += fmt::format(", list(i.{} ORDER BY d.__pos) AS {}", column, out);
      // A row without a history has none; an empty history an empty one.
      columns += fmt::format(
          ", CASE WHEN m.{0} IS NULL THEN NULL ELSE coalesce(n.{1}, CAST([] AS {2})) END AS {1}", h,
          out, session.ColumnType(history_[f], "history"));
    }
    const std::string negatives = table + "_lists";
    session.Run(fmt::format("CREATE TABLE {} AS SELECT d.__source{} FROM {} GROUP BY d.__source",
                            negatives, lists, Chosen(Drawn(draws, items), items)),
                "drawing the negative histories");
    session.Run(fmt::format("CREATE TABLE {} AS SELECT m.*{} FROM {} m LEFT JOIN {} n ON "
                            "n.__source = m.__row ORDER BY m.__row",
                            table, columns, input, negatives),
                "writing the negative histories");
    session.Run("DROP TABLE " + negatives, "dropping the negative histories");
  }

  // `output` = `table` with k negative rows after each positive row.
  void DrawRows(PrepareSession& session, const std::string& table, const Dictionary& items,
                const std::string& positive, const std::string& label_type,
                const std::string& output) const {
    const std::string draws = fmt::format(
        "(SELECT p.__row AS __source, d.j AS __j, p.{} AS __positive, aiok_unit(CAST({} AS "
        "UBIGINT), p.__row * {} + d.j, {}) AS __u FROM {} p, range({}) d(j) WHERE {})",
        data::SqlName(item_), seed_, k_, kNegativeStream, table, k_, positive);
    const std::string chosen_rows = output + "_draws";
    std::string chosen = fmt::format("i.__item AS {}", data::SqlName(item_));
    for (const std::string& column : side_)
      chosen += fmt::format(", i.{0} AS {0}", data::SqlName(column));
    session.Run(fmt::format("CREATE TABLE {} AS SELECT d.__source, d.__j, {} FROM {}", chosen_rows,
                            chosen, Chosen(Drawn(draws, items), items)),
                "drawing negatives");
    std::string replaced = data::SqlName(item_);
    for (const std::string& column : side_)
      replaced += ", " + data::SqlName(column);
    const std::string negative_value =
        fmt::format("CAST({} AS {})", data::SqlString(negative_), label_type);
    // Negatives follow their positive row, in draw order.
    const std::string rows = fmt::format(
        "(SELECT *, 0 AS __j FROM {0} UNION ALL BY NAME SELECT p.* EXCLUDE ({1}, {2}), c.* "
        "EXCLUDE (__source, __j), {3} AS {2}, c.__j + 1 AS __j FROM {4} c JOIN {0} p ON p.__row "
        "= c.__source)",
        table, replaced, data::SqlName(label_), negative_value, chosen_rows);
    session.Run(fmt::format("CREATE TABLE {} AS {}", output, RenumberedSelect(rows, "__row, __j")),
                "writing the negatives");
    session.Run(fmt::format("ALTER TABLE {} DROP COLUMN __j", output), "writing the negatives");
    session.Run("DROP TABLE " + chosen_rows, "dropping the draws");
  }

  static constexpr int kNegativeStream = 2;
  static constexpr int64_t kHistoryStream = int64_t{1} << 32;
  int64_t k_ = 1;
  std::string item_;
  std::string by_ = "popularity";
  std::vector<std::string> side_;
  std::string label_ = "label";
  std::string positive_ = "1";
  std::string negative_ = "0";
  int64_t seed_ = 0;
  std::vector<std::string> history_;
  std::string history_prefix_ = "neg_";
};

}  // namespace

void RegisterSequenceSteps(PrepareRegistry& registry) {
  registry.Register("difference_lag", [] { return std::make_unique<DifferenceLagStep>(); });
  registry.Register("collapse_history", [] { return std::make_unique<CollapseHistoryStep>(); });
  registry.Register("negative_sample", [] { return std::make_unique<NegativeSampleStep>(); });
}

}  // namespace aiok::etl
