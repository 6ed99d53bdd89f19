#include "aiok/data/splits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

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

SplitRule SplitRule::Parse(const std::string& text) {
  SplitRule rule;
  rule.text_ = text;
  if (text == "kaggle")
    return rule;
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
             "split rule '{}': expected 'kaggle', 'fractions:T,V' or 'random:T,V[,SEED]' with "
             "T > 0, V >= 0 and T + V <= 1 (e.g. fractions:0.8,0.1 or random:0.8,0.1,42)",
             text);
  rule.kaggle_ = false;
  rule.train_ = train;
  rule.valid_ = valid;
  rule.seed_ = seed;
  return rule;
}

SplitRanges SplitRule::Apply(int64_t rows) const {
  if (kaggle_)
    return KaggleSplits(rows);
  if (random_)
    return SplitRanges{{0, rows}, {0, rows}, {0, rows}};
  const auto train_end = static_cast<int64_t>(static_cast<double>(rows) * train_);
  const int64_t valid_end =
      std::min(rows, train_end + static_cast<int64_t>(static_cast<double>(rows) * valid_));
  return SplitRanges{{0, train_end}, {train_end, valid_end}, {valid_end, rows}};
}

SplitIndex SplitRule::Of(int64_t row, const SplitRanges& ranges) const {
  if (random_) {
    // 53 bits of the row's hash as a uniform draw in [0, 1).
    const double u = static_cast<double>(Mix64(seed_ ^ Mix64(static_cast<uint64_t>(row))) >> 11) *
                     0x1.0p-53;
    return u < train_ ? kTrainSplit : u < train_ + valid_ ? kValidSplit : kTestSplit;
  }
  return row < ranges.train.end ? kTrainSplit : row < ranges.valid.end ? kValidSplit : kTestSplit;
}

std::string SplitRule::Describe() const {
  if (kaggle_) {
    return "kaggle: 7 near-equal days by source line; days 0-5 train, day 6 halves valid/test";
  }
  if (random_) {
    return fmt::format("random: each source record train with probability {}, valid {}, else "
                       "test (seed {})",
                       train_, valid_, seed_);
  }
  return fmt::format("fractions: first {} of the source lines train, next {} valid, rest test",
                     train_, valid_);
}

}  // namespace aiok::data
