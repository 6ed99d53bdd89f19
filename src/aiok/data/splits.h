// Row splits. The Kaggle Criteo convention: the file holds 7 consecutive "days" of near-equal
// size in row order; days 0-5 train, the first half of day 6 validates and the second tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aiok/data/time_values.h"

namespace aiok::data {

/// Rows [begin, end) of a file, 0-based.
struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool Contains(int64_t row) const { return row >= begin && row < end; }
};

struct SplitRanges {
  RowRange train;
  RowRange valid;
  RowRange test;
};

/// Number of days in the Kaggle convention.
constexpr int kKaggleDays = 7;

/// First row of `day` (0..7) when `rows` are cut into 7 near-equal contiguous days.
int64_t KaggleDayStart(int64_t rows, int day);

/// The Kaggle train/valid/test split of `rows` rows.
SplitRanges KaggleSplits(int64_t rows);

/// The splits, by index.
enum SplitIndex : int { kTrainSplit = 0, kValidSplit = 1, kTestSplit = 2 };

/// How rows are cut into train, valid and test:
///   "kaggle"              the Kaggle convention above (the default);
///   "fractions:T,V"       the first T of the rows train, the next V valid, the rest test;
///   "random:T,V[,SEED]"   each row on its own: train with probability T, valid with V, test
///                         otherwise, drawn from a hash of SEED (default 0) and the row's
///                         number — the same rows whatever the threads or batch sizes;
///   "time:FIELD[:FORMAT]:A,B"  by each row's own time in FIELD, wherever the row is: before
///                         A train, from A to before B valid, from B test. A and B are dates
///                         or date-times ("2014-10-28", "2014-10-30 12:00"); or fractions of
///                         the time range the file spans ("time:ts:0.8,0.1": rows in the first
///                         80% of the time from the earliest row to the latest train, the next
///                         10% valid, the rest test). FORMAT says how
///                         an integer field holds times: epoch (the default; a field of type
///                         timestamp is parsed to it) or yymmddhh (Avazu's hour).
/// kaggle and fractions cut contiguous ranges; random and time splits' rows interleave.
class SplitRule {
 public:
  /// Parses the forms above; anything else throws Error(kConfig) showing them.
  static SplitRule Parse(const std::string& text);

  /// The ranges of a contiguous rule; for the others every range is all of [0, rows).
  SplitRanges Apply(int64_t rows) const;
  /// The split of 0-based row `row`, given Apply()'s ranges for the file. A time rule knows
  /// rows only after AssignByTime (else Error(kInternal)).
  SplitIndex Of(int64_t row, const SplitRanges& ranges) const;
  bool contiguous() const { return !random_ && !by_time_; }
  /// The rule as written ("kaggle", "fractions:0.8,0.1"); a time rule with fractions, once
  /// assigned, with the cut points they fell on (so that re-parsing it cuts the same rows).
  const std::string& text() const { return text_; }
  /// A sentence for schemas and reports.
  std::string Describe() const;

  /// Time rules: the field, how its integers are times, and the split of a row at `seconds`
  /// (cut points given, or fixed by AssignByTime).
  bool by_time() const { return by_time_; }
  const std::string& time_field() const { return time_field_; }
  TimeFormat time_format() const { return time_format_; }
  SplitIndex OfTime(int64_t seconds) const;
  /// A record without a time: one that was rejected, never asked for.
  static constexpr int64_t kNoTime = INT64_MIN;
  /// Time rule: `times[r]` is record r's time in seconds (kNoTime when it has none). Fixes
  /// fraction cut points from the range of the times, then each record's split, after which
  /// Of() answers by record.
  void AssignByTime(const std::vector<int64_t>& times);

  /// What "time:..." says, parsed.
  struct TimeCuts {
    std::string field;
    TimeFormat format = TimeFormat::kEpoch;
    bool fractions = false;
    double train = 0.0;  ///< fractions of the time range
    double valid = 0.0;
    int64_t valid_from = 0;  ///< cut points, seconds since the epoch
    int64_t test_from = 0;
  };

 private:
  std::string text_;
  bool kaggle_ = true;
  bool random_ = false;
  double train_ = 0.0;
  double valid_ = 0.0;
  uint64_t seed_ = 0;
  // Time rules: cut points in seconds once known (given, or from fractions at assignment),
  // and each record's split (shared: rules are copied by value).
  bool by_time_ = false;
  bool time_fractions_ = false;
  std::string time_field_;
  TimeFormat time_format_ = TimeFormat::kEpoch;
  int64_t valid_from_ = 0;
  int64_t test_from_ = 0;
  std::shared_ptr<const std::vector<uint8_t>> record_splits_;
};

}  // namespace aiok::data
