// Row splits. The Kaggle Criteo convention: the file holds 7 consecutive "days" of near-equal
// size in row order; days 0-5 train, the first half of day 6 validates and the second tests.
#pragma once

#include <cstdint>

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

}  // namespace aiok::data
