#include "aiok/data/splits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/data/value_parsing.h"

namespace aiok::data {

int64_t KaggleDayStart(int64_t rows, int day) {
  AIOK_ASSERT(rows >= 0 && day >= 0 && day <= kKaggleDays);
  // 128-bit product: rows * day cannot overflow for any row count that fits in int64.
  return static_cast<int64_t>(static_cast<__int128>(rows) * day / kKaggleDays);
}

SplitRanges KaggleSplits(int64_t rows) {
  const int64_t last_day = KaggleDayStart(rows, kKaggleDays - 1);
  const int64_t valid_end = last_day + (rows - last_day) / 2;
  return SplitRanges{{0, last_day}, {last_day, valid_end}, {valid_end, rows}};
}

namespace {

constexpr const char* kSplitForms =
    "expected 'kaggle', 'fractions:T,V', 'random:T,V[,SEED]' or 'time:FIELD[:FORMAT]:A,B'";

// "time:FIELD[:FORMAT]:A,B": A and B both dates (cut points) or both fractions.
SplitRule::TimeCuts ParseTimeRule(const std::string& text) {
  SplitRule::TimeCuts cuts;
  const std::string rest = text.substr(5);
  const size_t field_end = rest.find(':');
  AIOK_CHECK(field_end != std::string::npos && field_end > 0, ErrorKind::kConfig,
             "split rule '{}': {}; a time split names its field: time:FIELD:A,B (e.g. "
             "time:ts:2014-10-28,2014-10-30 or time:ts:0.8,0.1)",
             text, kSplitForms);
  cuts.field = rest.substr(0, field_end);
  std::string values = rest.substr(field_end + 1);
  for (const char* format : {"epoch:", "yymmddhh:"}) {
    if (values.rfind(format, 0) == 0) {
      const std::string name(format, std::char_traits<char>::length(format) - 1);
      cuts.format = ParseTimeFormat(name, "split rule '" + text + "'");
      values = values.substr(name.size() + 1);
    }
  }
  const size_t comma = values.find(',');
  AIOK_CHECK(comma != std::string::npos, ErrorKind::kConfig,
             "split rule '{}': expected two cut points or two fractions after the field, "
             "comma-separated (time:ts:2014-10-28,2014-10-30 or time:ts:0.8,0.1)",
             text);
  const std::string a = values.substr(0, comma);
  const std::string b = values.substr(comma + 1);
  // Dates have a '-' after the year; fractions never do.
  const bool dates = a.find('-') != std::string::npos || b.find('-') != std::string::npos;
  if (dates) {
    const bool parsed = a.find('-') != std::string::npos && b.find('-') != std::string::npos &&
                        ParseTimestamp(a, &cuts.valid_from) == ParseStatus::kOk &&
                        ParseTimestamp(b, &cuts.test_from) == ParseStatus::kOk;
    AIOK_CHECK(parsed && cuts.valid_from <= cuts.test_from, ErrorKind::kConfig,
               "split rule '{}': expected two cut points YYYY-MM-DD[ HH:MM[:SS]], the first "
               "not after the second (valid from the first, test from the second)",
               text);
    return cuts;
  }
  char extra = 0;
  const bool parsed =
      std::sscanf(values.c_str(), "%lf,%lf%c", &cuts.train, &cuts.valid, &extra) == 2;
  AIOK_CHECK(parsed && cuts.train > 0 && cuts.valid >= 0 && cuts.train + cuts.valid <= 1.0,
             ErrorKind::kConfig,
             "split rule '{}': expected fractions T,V of the time range with T > 0, V >= 0 and "
             "T + V <= 1 (e.g. time:ts:0.8,0.1), or two dates",
             text);
  cuts.fractions = true;
  return cuts;
}

}  // namespace

SplitRule SplitRule::Parse(const std::string& text) {
  SplitRule rule;
  rule.text_ = text;
  if (text == "kaggle")
    return rule;
  if (text.rfind("time:", 0) == 0) {
    const TimeCuts cuts = ParseTimeRule(text);
    rule.kaggle_ = false;
    rule.by_time_ = true;
    rule.time_fractions_ = cuts.fractions;
    rule.time_field_ = cuts.field;
    rule.time_format_ = cuts.format;
    rule.train_ = cuts.train;
    rule.valid_ = cuts.valid;
    rule.valid_from_ = cuts.valid_from;
    rule.test_from_ = cuts.test_from;
    return rule;
  }
  double train = -1;
  double valid = -1;
  unsigned long long seed = 0;
  char extra = 0;
  bool parsed = false;
  if (text.rfind("fractions:", 0) == 0) {
    parsed = std::sscanf(text.c_str() + 10, "%lf,%lf%c", &train, &valid, &extra) == 2;
  } else if (text.rfind("random:", 0) == 0) {
    const char* numbers = text.c_str() + 7;
    parsed = std::sscanf(numbers, "%lf,%lf%c", &train, &valid, &extra) == 2 ||
             (std::sscanf(numbers, "%lf,%lf,%llu%c", &train, &valid, &seed, &extra) == 3 &&
              text.back() >= '0' && text.back() <= '9');
    rule.random_ = true;
  }
  AIOK_CHECK(parsed && train > 0 && valid >= 0 && train + valid <= 1.0, ErrorKind::kConfig,
             "split rule '{}': {} with T > 0, V >= 0 and T + V <= 1 (e.g. fractions:0.8,0.1, "
             "random:0.8,0.1,42 or time:ts:2014-10-28,2014-10-30)",
             text, kSplitForms);
  rule.kaggle_ = false;
  rule.train_ = train;
  rule.valid_ = valid;
  rule.seed_ = seed;
  return rule;
}

SplitRanges SplitRule::Apply(int64_t rows) const {
  if (kaggle_)
    return KaggleSplits(rows);
  if (random_ || by_time_)
    return SplitRanges{{0, rows}, {0, rows}, {0, rows}};
  const auto train_end = static_cast<int64_t>(static_cast<double>(rows) * train_);
  const int64_t valid_end =
      std::min(rows, train_end + static_cast<int64_t>(static_cast<double>(rows) * valid_));
  return SplitRanges{{0, train_end}, {train_end, valid_end}, {valid_end, rows}};
}

SplitIndex SplitRule::Of(int64_t row, const SplitRanges& ranges) const {
  if (by_time_) {
    AIOK_CHECK(
        record_splits_ != nullptr && row >= 0 && static_cast<size_t>(row) < record_splits_->size(),
        ErrorKind::kInternal,
        "split rule '{}': record {} has no split: a time split knows a record by its "
        "time (OfTime), or after AssignByTime",
        text_, row);
    return static_cast<SplitIndex>((*record_splits_)[static_cast<size_t>(row)]);
  }
  if (random_) {
    // 53 bits of the row's hash as a uniform draw in [0, 1).
    const double u =
        static_cast<double>(Mix64(seed_ ^ Mix64(static_cast<uint64_t>(row))) >> 11) * 0x1.0p-53;
    return u < train_ ? kTrainSplit : u < train_ + valid_ ? kValidSplit : kTestSplit;
  }
  return row < ranges.train.end ? kTrainSplit : row < ranges.valid.end ? kValidSplit : kTestSplit;
}

SplitIndex SplitRule::OfTime(int64_t seconds) const {
  AIOK_CHECK(by_time_ && (!time_fractions_ || record_splits_ != nullptr), ErrorKind::kInternal,
             "split rule '{}': no cut points yet (fractions are fixed by AssignByTime)", text_);
  return seconds < valid_from_ ? kTrainSplit : seconds < test_from_ ? kValidSplit : kTestSplit;
}

void SplitRule::AssignByTime(const std::vector<int64_t>& times) {
  AIOK_ASSERT(by_time_);
  if (time_fractions_) {
    int64_t first = INT64_MAX;
    int64_t last = INT64_MIN;
    for (const int64_t t : times) {
      if (t == kNoTime)
        continue;
      first = std::min(first, t);
      last = std::max(last, t);
    }
    // A row at time t is train when t < first + T * span: for whole seconds, t below the
    // ceiling of that. A fraction that reaches the end takes the last rows too.
    auto cut = [&](double fraction) -> int64_t {
      if (first > last || fraction >= 1.0)
        return last == INT64_MIN ? 0 : last + 1;
      const double span = static_cast<double>(last) - static_cast<double>(first);
      return first + static_cast<int64_t>(std::ceil(fraction * span));
    };
    valid_from_ = cut(train_);
    test_from_ = cut(train_ + valid_);
    // Written with the cut points they fell on: re-parsing the rule cuts the same rows.
    text_ = fmt::format("time:{}:{}:{},{}", time_field_, TimeFormatName(time_format_),
                        FormatTime(valid_from_), FormatTime(test_from_));
    time_fractions_ = false;
  }
  auto splits = std::make_shared<std::vector<uint8_t>>(times.size());
  for (size_t r = 0; r < times.size(); ++r)
    (*splits)[r] = static_cast<uint8_t>(times[r] == kNoTime ? kTestSplit : OfTime(times[r]));
  record_splits_ = std::move(splits);
}

std::string SplitRule::Describe() const {
  if (kaggle_) {
    return "kaggle: 7 near-equal days by source line; days 0-5 train, day 6 halves valid/test";
  }
  if (by_time_) {
    if (time_fractions_) {
      return fmt::format(
          "time: by each row's {} ({}): the first {} of the time range train, "
          "the next {} valid, the rest test",
          time_field_, TimeFormatName(time_format_), train_, valid_);
    }
    return fmt::format(
        "time: by each row's {} ({}): train before {}, valid before {}, test "
        "from then on",
        time_field_, TimeFormatName(time_format_), FormatTime(valid_from_), FormatTime(test_from_));
  }
  if (random_) {
    return fmt::format(
        "random: each source record train with probability {}, valid {}, else "
        "test (seed {})",
        train_, valid_, seed_);
  }
  return fmt::format("fractions: first {} of the source lines train, next {} valid, rest test",
                     train_, valid_);
}

}  // namespace aiok::data
