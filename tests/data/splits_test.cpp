#include "aiok/data/splits.h"

#include <gtest/gtest.h>

namespace aiok::data {
namespace {

TEST(KaggleSplits, FourteenRowsByHand) {
  // Days start at rows 0, 2, 4, 6, 8, 10, 12; day 6 is rows 12-13.
  const SplitRanges s = KaggleSplits(14);
  EXPECT_EQ(s.train.begin, 0);
  EXPECT_EQ(s.train.end, 12);
  EXPECT_EQ(s.valid.begin, 12);
  EXPECT_EQ(s.valid.end, 13);
  EXPECT_EQ(s.test.begin, 13);
  EXPECT_EQ(s.test.end, 14);
}

TEST(KaggleSplits, HundredRowsByHand) {
  // Day 6 starts at floor(600 / 7) = 85 and has 15 rows: 7 valid, 8 test.
  const SplitRanges s = KaggleSplits(100);
  EXPECT_EQ(s.train.end, 85);
  EXPECT_EQ(s.valid.begin, 85);
  EXPECT_EQ(s.valid.end, 92);
  EXPECT_EQ(s.test.begin, 92);
  EXPECT_EQ(s.test.end, 100);
}

TEST(KaggleSplits, CoverEveryRowOnceWithNearEqualDays) {
  for (int64_t rows : {1, 6, 7, 13, 999, 2000000, 45840617}) {
    const SplitRanges s = KaggleSplits(rows);
    EXPECT_EQ(s.train.begin, 0);
    EXPECT_EQ(s.train.end, s.valid.begin);
    EXPECT_EQ(s.valid.end, s.test.begin);
    EXPECT_EQ(s.test.end, rows);
    EXPECT_GE(s.test.size(), s.valid.size());
    EXPECT_LE(s.test.size() - s.valid.size(), 1);
    for (int day = 0; day < kKaggleDays; ++day) {
      const int64_t size = KaggleDayStart(rows, day + 1) - KaggleDayStart(rows, day);
      EXPECT_LE(std::abs(size - rows / kKaggleDays), 1) << rows << " rows, day " << day;
    }
  }
}

}  // namespace
}  // namespace aiok::data
