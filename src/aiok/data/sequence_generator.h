// `aiok datagen sequences`: an Amazon-Books-like behaviour log with known click probabilities,
// whose rows carry each user's history for DIEN-style models.
//
// DIR/events.csv      one impression per row, all rows in time order (ties by user), with a
//                     header: user_id, item_id, cat_id (integers from 1), timestamp (Unix
//                     seconds), label (1 clicked, 0 shown but not clicked), hist_items and
//                     hist_cats: the user's clicked items and their categories BEFORE this
//                     impression, oldest first, at most --max-history of them, joined by '|'
//                     (empty when the user has clicked nothing yet)
// DIR/items.csv       item_id -> cat_id, one row per item
// DIR/schema.yaml     the schema of events.csv for `aiok etl --schema` (ids categorical,
//                     histories role sequence, timestamp, label)
// DIR/truth.f32       the true click probability of every row, little-endian float32, row order
// DIR/nohistory.f32   the best probability without the user's behaviour, same form
// DIR/datagen.json    options, seed, columns, and per Kaggle split (by row, so by time) the
//                     Bayes-optimal AUC, the best no-history AUC and the history filter's AUC;
//                     written last, so its presence means the directory is complete
//
// Rows are in time order, so the Kaggle split puts every user's latest impressions in valid and
// test. The hidden model and the three AUCs are described in sequence_click_model.h.
//
// Memory: every impression is kept until the rows are sorted by time (~75 bytes each: 22 MB
// at the defaults).
#pragma once

#include "aiok/data/generator.h"
#include "aiok/data/schema.h"

namespace aiok::data {

struct SequenceGeneratorOptions {
  // Defaults: 20000 users x ~15 impressions = ~300k rows (~257k train): the size at which a
  // DIEN-like model trains an epoch in about a minute on 2 cores. 20000 items over 100
  // categories gives each item ~15 impressions and each category ~200 items, like a thin slice
  // of Amazon Books.
  int64_t users = 20000;
  int64_t items = 20000;
  int64_t categories = 100;
  int64_t events_per_user = 15;
  int64_t max_history = 50;
  double pos_rate = 0.25;

  template <typename V>
  void Visit(V& v) {
    v.Int("users", &users, 1, int64_t{1} << 31, "number of users");
    v.Int("items", &items, 1, INT32_MAX, "number of items (at least --categories)");
    v.Int("categories", &categories, 1, int64_t{1} << 20, "number of item categories");
    v.Int("events-per-user", &events_per_user, 1, int64_t{1} << 16,
          "mean impressions per user (lengths vary around it)");
    v.Int("max-history", &max_history, 1, int64_t{1} << 16,
          "most recent clicks kept in a row's hist_items/hist_cats");
    v.Real("pos-rate", &pos_rate, 0.001, 0.999, "expected fraction of clicked impressions");
  }
};

/// The schema of events.csv, as DIR/schema.yaml writes it.
TableSchema SequenceEventsSchema();

class SequenceGenerator final : public Generator {
 public:
  /// Users simulated, and rows formatted and written, as one unit of work.
  static constexpr int64_t kChunkUsers = 1024;
  static constexpr int64_t kChunkRows = 16384;

  SequenceGeneratorOptions& options() { return options_; }
  void VisitOptions(OptionVisitor& visitor) override { options_.Visit(visitor); }
  void Validate() override;
  /// Writes the files above; GeneratorSummary::data_file is events.csv.
  GeneratorSummary Generate(const RunContext& ctx, const std::string& out_dir) override;

 private:
  SequenceGeneratorOptions options_;
};

}  // namespace aiok::data
