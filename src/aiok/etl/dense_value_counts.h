// Exact counts of a dense column's distinct values, for the operators that fit order
// statistics (bucketize's quantiles, fill_missing's median): counted in an open-addressing
// table by the value's bits, and sorted once, distinct values only, when the fit finishes. A
// std::map insert per value cost 3% of the feature benchmark's samples for one column, and
// sorting every value 1.5%; memory grows with the distinct values, not the rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "aiok/core/flat_hash_map.h"

namespace aiok::etl {

class DenseValueCounts {
 public:
  /// Counts `values`; NaN (missing) is skipped and -0.0 counts as 0.0.
  void Add(const double* values, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(values[i]))
        continue;
      const double value = values[i] + 0.0;  // -0.0 + 0.0 is +0.0
      uint64_t bits;
      std::memcpy(&bits, &value, sizeof bits);
      counts_.Increment(bits);
    }
  }

  /// The distinct values in ascending order, each with its count.
  std::vector<std::pair<double, int64_t>> Sorted() const {
    std::vector<std::pair<double, int64_t>> sorted;
    sorted.reserve(counts_.size());
    counts_.ForEach([&](uint64_t bits, int64_t count) {
      double value;
      std::memcpy(&value, &bits, sizeof value);
      sorted.emplace_back(value, count);
    });
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }

  /// Frees the counts.
  void Clear() { counts_ = FlatHashMap<uint64_t, int64_t>(); }

 private:
  FlatHashMap<uint64_t, int64_t> counts_;  // value bits -> count
};

}  // namespace aiok::etl
