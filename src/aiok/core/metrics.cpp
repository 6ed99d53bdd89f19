#include "aiok/core/metrics.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "aiok/core/error.h"

namespace aiok {
namespace {

// Maps a float to a uint32 whose unsigned order is the float's order (-0 and +0 equal).
uint32_t OrderedBits(float value) {
  if (value == 0.0f)
    value = 0.0f;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// LSD radix sort of 64-bit keys on their top 32 bits, in three passes of 11/11/10 bits.
void RadixSortByHigh32(std::vector<uint64_t>& keys) {
  std::vector<uint64_t> scratch(keys.size());
  const int shifts[3] = {32, 43, 54};
  const int widths[3] = {11, 11, 10};
  for (int pass = 0; pass < 3; ++pass) {
    const size_t buckets = size_t{1} << widths[pass];
    const uint64_t mask = buckets - 1;
    std::vector<size_t> offsets(buckets + 1, 0);
    for (uint64_t key : keys)
      ++offsets[((key >> shifts[pass]) & mask) + 1];
    for (size_t b = 0; b < buckets; ++b)
      offsets[b + 1] += offsets[b];
    for (uint64_t key : keys)
      scratch[offsets[(key >> shifts[pass]) & mask]++] = key;
    keys.swap(scratch);
  }
}

}  // namespace

double BinaryAuc(const float* scores, const uint8_t* labels, size_t n) {
  std::vector<uint64_t> keys(n);
  for (size_t i = 0; i < n; ++i) {
    AIOK_CHECK(!std::isnan(scores[i]), ErrorKind::kInvalidInput, "AUC: score {} is NaN", i);
    keys[i] = (uint64_t{OrderedBits(scores[i])} << 32) | (labels[i] != 0 ? 1u : 0u);
  }
  RadixSortByHigh32(keys);
  // Walk groups of equal scores from lowest to highest: each positive in a group beats every
  // negative below the group and ties with the negatives inside it.
  double wins = 0.0;
  double negatives_below = 0.0;
  double positives = 0.0;
  size_t i = 0;
  while (i < n) {
    const uint64_t score = keys[i] >> 32;
    double group_pos = 0.0;
    double group_neg = 0.0;
    for (; i < n && (keys[i] >> 32) == score; ++i) {
      if (keys[i] & 1u) {
        group_pos += 1.0;
      } else {
        group_neg += 1.0;
      }
    }
    wins += group_pos * (negatives_below + 0.5 * group_neg);
    negatives_below += group_neg;
    positives += group_pos;
  }
  const double negatives = negatives_below;
  if (positives == 0.0 || negatives == 0.0)
    return std::numeric_limits<double>::quiet_NaN();
  return wins / (positives * negatives);
}

double BinaryLogLoss(const float* probabilities, const uint8_t* labels, size_t n) {
  if (n == 0)
    return std::numeric_limits<double>::quiet_NaN();
  constexpr double kEps = 1e-7;
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double p = std::fmin(std::fmax(static_cast<double>(probabilities[i]), kEps), 1.0 - kEps);
    total -= labels[i] ? std::log(p) : std::log1p(-p);
  }
  return total / static_cast<double>(n);
}

double PositiveRate(const uint8_t* labels, size_t n) {
  if (n == 0)
    return std::numeric_limits<double>::quiet_NaN();
  size_t positives = 0;
  for (size_t i = 0; i < n; ++i)
    positives += labels[i] != 0;
  return static_cast<double>(positives) / static_cast<double>(n);
}

double BinaryAccuracy(const float* probabilities, const uint8_t* labels, size_t n) {
  if (n == 0)
    return std::numeric_limits<double>::quiet_NaN();
  size_t correct = 0;
  for (size_t i = 0; i < n; ++i)
    correct += (probabilities[i] >= 0.5f) == (labels[i] != 0);
  return static_cast<double>(correct) / static_cast<double>(n);
}

double RootMeanSquaredError(const float* predictions, const float* targets, size_t n) {
  if (n == 0)
    return std::numeric_limits<double>::quiet_NaN();
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double error = static_cast<double>(predictions[i]) - static_cast<double>(targets[i]);
    total += error * error;
  }
  return std::sqrt(total / static_cast<double>(n));
}

double MeanAbsoluteError(const float* predictions, const float* targets, size_t n) {
  if (n == 0)
    return std::numeric_limits<double>::quiet_NaN();
  double total = 0.0;
  for (size_t i = 0; i < n; ++i)
    total += std::fabs(static_cast<double>(predictions[i]) - static_cast<double>(targets[i]));
  return total / static_cast<double>(n);
}

}  // namespace aiok
