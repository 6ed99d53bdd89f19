// Row splits. The Kaggle Criteo convention: the file holds 7 consecutive "days" of near-equal
// size in row order; days 0-5 train, the first half of day 6 validates and the second tests.
#pragma once

#include <cstdint>
#include <string>

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
///                         number — the same rows whatever the threads or batch sizes.
/// The first two cut contiguous ranges; a random split's rows interleave.
class SplitRule {
 public:
  /// Parses the forms above; anything else throws Error(kConfig) showing them.
  static SplitRule Parse(const std::string& text);

  /// The ranges of a contiguous rule; for a random one every range is all of [0, rows).
  SplitRanges Apply(int64_t rows) const;
  /// The split of 0-based row `row`, given Apply()'s ranges for the file.
  SplitIndex Of(int64_t row, const SplitRanges& ranges) const;
  bool contiguous() const { return !random_; }
  /// The rule as written ("kaggle", "fractions:0.8,0.1").
  const std::string& text() const { return text_; }
  /// A sentence for schemas and reports.
  std::string Describe() const;

 private:
  std::string text_;
  bool kaggle_ = true;
  bool random_ = false;
  double train_ = 0.0;
  double valid_ = 0.0;
  uint64_t seed_ = 0;
};

}  // namespace aiok::data
