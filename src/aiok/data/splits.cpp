#include "aiok/data/splits.h"

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

}  // namespace aiok::data
