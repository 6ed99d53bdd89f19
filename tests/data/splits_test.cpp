#include "aiok/data/splits.h"

#include <gtest/gtest.h>

#include "aiok/core/error.h"

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

namespace aiok::data {
namespace {

TEST(SplitRule, KaggleByDefaultAndFractions) {
  const SplitRanges kaggle = SplitRule::Parse("kaggle").Apply(100);
  EXPECT_EQ(kaggle.train.end, 85);
  const SplitRanges fractions = SplitRule::Parse("fractions:0.8,0.15").Apply(1000);
  EXPECT_EQ(fractions.train.begin, 0);
  EXPECT_EQ(fractions.train.end, 800);
  EXPECT_EQ(fractions.valid.end, 950);
  EXPECT_EQ(fractions.test.end, 1000);
  const SplitRanges no_valid = SplitRule::Parse("fractions:0.9,0").Apply(10);
  EXPECT_EQ(no_valid.valid.size(), 0);
  EXPECT_EQ(no_valid.test.size(), 1);
}

TEST(SplitRule, BadRulesShowTheForms) {
  for (const char* bad : {"random", "fractions:", "fractions:0.9", "fractions:0.9,0.2",
                          "fractions:0,0.5", "fractions:0.8,0.1x", "random:0.9",
                          "random:0.8,0.1,x", "random:0.8,0.3,1"}) {
    try {
      SplitRule::Parse(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expected 'kaggle', 'fractions:T,V' or 'random:T,V[,SEED]'"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace aiok::data
