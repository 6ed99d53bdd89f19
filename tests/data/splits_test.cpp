#include "aiok/data/splits.h"

#include <gtest/gtest.h>

#include "aiok/core/error.h"
#include "aiok/data/time_values.h"
#include "aiok/data/value_parsing.h"

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
  for (const char* bad :
       {"random", "fractions:", "fractions:0.9", "fractions:0.9,0.2", "fractions:0,0.5",
        "fractions:0.8,0.1x", "random:0.9", "random:0.8,0.1,x", "random:0.8,0.3,1"}) {
    try {
      SplitRule::Parse(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expected 'kaggle', 'fractions:T,V', "
                                           "'random:T,V[,SEED]' or 'time:FIELD[:FORMAT]:A,B'"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace aiok::data

namespace aiok::data {
namespace {

int64_t Seconds(const char* text) {
  int64_t seconds = 0;
  EXPECT_EQ(ParseTimestamp(text, &seconds), ParseStatus::kOk) << text;
  return seconds;
}

TEST(TimeValues, YymmddhhAndCalendarParts) {
  int64_t seconds = 0;
  std::string problem;
  ASSERT_TRUE(TimeFromInteger(14102107, TimeFormat::kYymmddhh, &seconds, &problem));
  EXPECT_EQ(seconds, Seconds("2014-10-21 07:00:00"));
  ASSERT_TRUE(TimeFromInteger(16022923, TimeFormat::kYymmddhh, &seconds, &problem));  // leap day
  EXPECT_EQ(FormatTime(seconds), "2016-02-29 23:00:00");
  for (const auto& [bad, what] :
       std::vector<std::pair<int64_t, std::string>>{{14132100, "month 13"},
                                                    {14102125, "hour 25"},
                                                    {15022900, "day 29 of month 2"},
                                                    {14003100, "month 0"},
                                                    {-5, "not 8 digits"},
                                                    {123456789, "not 8 digits"}}) {
    EXPECT_FALSE(TimeFromInteger(bad, TimeFormat::kYymmddhh, &seconds, &problem)) << bad;
    EXPECT_NE(problem.find(what), std::string::npos) << bad << ": " << problem;
  }
  // 1970-01-01 was a Thursday (4), 2014-10-27 a Monday (1); times before 1970 floor to the
  // day before.
  EXPECT_EQ(CivilFromSeconds(0).weekday, 4);
  const CivilTime monday = CivilFromSeconds(Seconds("2014-10-27 13:59:59"));
  EXPECT_EQ(monday.weekday, 1);
  EXPECT_EQ(monday.hour, 13);
  EXPECT_EQ(monday.day, 27);
  EXPECT_EQ(monday.month, 10);
  EXPECT_EQ(monday.year, 2014);
  const CivilTime before = CivilFromSeconds(-1);
  EXPECT_EQ(before.year, 1969);
  EXPECT_EQ(before.month, 12);
  EXPECT_EQ(before.day, 31);
  EXPECT_EQ(before.hour, 23);
  EXPECT_EQ(before.weekday, 3);
  EXPECT_EQ(FormatTime(Seconds("2000-02-29 12:34:56")), "2000-02-29 12:34:56");
}

TEST(SplitRule, TimeCutPointsAssignRowsByTheirOwnTime) {
  SplitRule rule = SplitRule::Parse("time:ts:2014-10-28,2014-10-30");
  EXPECT_TRUE(rule.by_time());
  EXPECT_FALSE(rule.contiguous());
  EXPECT_EQ(rule.time_field(), "ts");
  EXPECT_EQ(rule.time_format(), TimeFormat::kEpoch);
  // Out of time order on purpose: position must not matter.
  const std::vector<int64_t> times = {Seconds("2014-10-31"), Seconds("2014-10-21"),
                                      SplitRule::kNoTime,    Seconds("2014-10-29 23:59:59"),
                                      Seconds("2014-10-28"), Seconds("2014-10-27 23:59:59"),
                                      Seconds("2014-10-30")};
  rule.AssignByTime(times);
  const SplitRanges ranges = rule.Apply(7);
  EXPECT_EQ(ranges.train.size(), 7);
  const std::vector<SplitIndex> expected = {kTestSplit,  kTrainSplit, kTestSplit, kValidSplit,
                                            kValidSplit, kTrainSplit, kTestSplit};
  for (int64_t r = 0; r < 7; ++r)
    EXPECT_EQ(rule.Of(r, ranges), expected[static_cast<size_t>(r)]) << r;
  EXPECT_EQ(rule.text(), "time:ts:2014-10-28,2014-10-30");  // cut points stay as written
  EXPECT_NE(rule.Describe().find("train before 2014-10-28 00:00:00"), std::string::npos);
}

TEST(SplitRule, TimeFractionsAreOfTheTimeRangeAndWrittenAsTheirCutPoints) {
  SplitRule rule = SplitRule::Parse("time:hour:yymmddhh:0.8,0.1");
  EXPECT_EQ(rule.time_format(), TimeFormat::kYymmddhh);
  // Times 0..100 s after a start, reversed: train below 80, valid below 90, test from 90.
  const int64_t start = Seconds("2014-10-21");
  std::vector<int64_t> times;
  for (int64_t t = 100; t >= 0; --t)
    times.push_back(start + t);
  rule.AssignByTime(times);
  const SplitRanges ranges = rule.Apply(101);
  for (size_t r = 0; r < times.size(); ++r) {
    const int64_t t = times[r] - start;
    const SplitIndex want = t < 80 ? kTrainSplit : t < 90 ? kValidSplit : kTestSplit;
    EXPECT_EQ(rule.Of(static_cast<int64_t>(r), ranges), want) << t;
  }
  EXPECT_EQ(rule.text(), "time:hour:yymmddhh:2014-10-21 00:01:20,2014-10-21 00:01:30");
  // The written rule cuts the same rows by time alone.
  const SplitRule again = SplitRule::Parse(rule.text());
  for (const int64_t t : times)
    EXPECT_EQ(again.OfTime(t), rule.OfTime(t));
  // Fractions that reach the end leave no test rows; the latest row is valid.
  SplitRule no_test = SplitRule::Parse("time:ts:0.5,0.5");
  no_test.AssignByTime(times);
  EXPECT_EQ(no_test.OfTime(start + 100), kValidSplit);
  EXPECT_EQ(no_test.OfTime(start + 49), kTrainSplit);
  EXPECT_EQ(no_test.OfTime(start + 50), kValidSplit);
}

TEST(SplitRule, BadTimeRulesSayWhatIsExpected) {
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {"time:", "names its field"},
           {"time:ts", "names its field"},
           {"time:ts:0.8", "two cut points or two fractions"},
           {"time:ts:0.9,0.2", "T + V <= 1"},
           {"time:ts:0,0.5", "T > 0"},
           {"time:ts:2014-10-30,2014-10-28", "the first not after the second"},
           {"time:ts:2014-13-01,2014-10-28", "YYYY-MM-DD"},
           {"time:ts:2014-10-01,0.5", "YYYY-MM-DD"},
           {"time:ts:hourly:0.8,0.1", "fractions T,V"}}) {
    try {
      SplitRule::Parse(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig);
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << bad << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  // A time rule answers by record only once it has the records' times.
  const SplitRule unassigned = SplitRule::Parse("time:ts:0.8,0.1");
  EXPECT_THROW(unassigned.Of(0, unassigned.Apply(1)), Error);
}

}  // namespace
}  // namespace aiok::data
