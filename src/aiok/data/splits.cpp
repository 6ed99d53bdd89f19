#include "aiok/data/splits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "aiok/core/error.h"

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
  const std::string prefix = "fractions:";
  double train = -1;
  double valid = -1;
  char extra = 0;
  const bool parsed =
      text.rfind(prefix, 0) == 0 &&
      std::sscanf(text.c_str() + prefix.size(), "%lf,%lf%c", &train, &valid, &extra) == 2;
  AIOK_CHECK(parsed && train > 0 && valid >= 0 && train + valid <= 1.0, ErrorKind::kConfig,
             "split rule '{}': expected 'kaggle' or 'fractions:T,V' with T > 0, V >= 0 and "
             "T + V <= 1 (e.g. fractions:0.8,0.1)",
             text);
  rule.kaggle_ = false;
  rule.train_ = train;
  rule.valid_ = valid;
  return rule;
}

SplitRanges SplitRule::Apply(int64_t rows) const {
  if (kaggle_)
    return KaggleSplits(rows);
  const auto train_end = static_cast<int64_t>(static_cast<double>(rows) * train_);
  const int64_t valid_end =
      std::min(rows, train_end + static_cast<int64_t>(static_cast<double>(rows) * valid_));
  return SplitRanges{{0, train_end}, {train_end, valid_end}, {valid_end, rows}};
}

std::string SplitRule::Describe() const {
  if (kaggle_) {
    return "kaggle: 7 near-equal days by source line; days 0-5 train, day 6 halves valid/test";
  }
  return fmt::format("fractions: first {} of the source lines train, next {} valid, rest test",
                     train_, valid_);
}

}  // namespace aiok::data
