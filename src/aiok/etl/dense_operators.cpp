#include "aiok/etl/dense_operators.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "aiok/core/error.h"

namespace aiok::etl {
namespace {
void CheckFitted(bool fitted, const char* op) {
  AIOK_CHECK(fitted, ErrorKind::kInternal, "{}: transform before fit", op);
}
}  // namespace

void FillMissing::FitDense(const double* values, size_t n) {
  if (options_.strategy == "median")
    counts_.Add(values, n);
}

void FillMissing::FinishFit() {
  if (options_.strategy == "constant") {
    fill_ = options_.value;
  } else {
    const std::vector<std::pair<double, int64_t>> counts = counts_.Sorted();
    int64_t total = 0;
    for (const auto& [value, count] : counts)
      total += count;
    // Values at 0-based ranks (total-1)/2 and total/2: equal for an odd count.
    const int64_t low_rank = (total - 1) / 2;
    const int64_t high_rank = total / 2;
    double low = NAN;
    double high = NAN;
    int64_t seen = 0;
    for (const auto& [value, count] : counts) {
      if (std::isnan(low) && seen + count > low_rank)
        low = value;
      if (seen + count > high_rank) {
        high = value;
        break;
      }
      seen += count;
    }
    // No training values at all: nothing to take a median of; fill with the constant.
    fill_ = total == 0 ? options_.value : (low + high) / 2.0;
    counts_.Clear();
  }
  fitted_ = true;
}

void FillMissing::TransformDense(double* values, size_t n) const {
  const double fill = fitted_ ? fill_ : options_.value;
  if (options_.strategy == "median")
    CheckFitted(fitted_, name());
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(values[i]))
      values[i] = fill;
  }
}

nlohmann::json FillMissing::SaveState() const {
  return {{"fill", fitted_ ? fill_ : options_.value}};
}

void FillMissing::LoadState(const nlohmann::json& state) {
  fill_ = state.at("fill").get<double>();
  fitted_ = true;
}

void Clip::CheckOptions(const std::string& where) const {
  AIOK_CHECK(options_.min <= options_.max, ErrorKind::kConfig,
             "{}: min ({}) must not exceed max ({})", where, options_.min, options_.max);
}

void Clip::TransformDense(double* values, size_t n) const {
  for (size_t i = 0; i < n; ++i) {
    // NaN fails both comparisons and stays NaN.
    if (values[i] < options_.min)
      values[i] = options_.min;
    if (values[i] > options_.max)
      values[i] = options_.max;
  }
}

void Log1p::TransformDense(double* values, size_t n) const {
  // Counts are mostly small integers: a table of log1p(k) (computed by std::log1p, so the
  // results are identical) saves most of the calls.
  constexpr int kTableSize = 16384;
  static const std::vector<double> table = [] {
    std::vector<double> t(kTableSize);
    for (int k = 0; k < kTableSize; ++k)
      t[k] = std::log1p(static_cast<double>(k));
    return t;
  }();
  for (size_t i = 0; i < n; ++i) {
    const double v = values[i];
    if (v >= 0.0 && v < kTableSize && v == std::floor(v)) {
      values[i] = table[static_cast<size_t>(v)];
      continue;
    }
    AIOK_CHECK(!(v < -1.0), ErrorKind::kInvalidInput,
               "log1p: value {} is below -1 (put clip with min 0 before log1p)", v);
    values[i] = std::log1p(v);
  }
}

void Normalize::FitDense(const double* values, size_t n) {
  int64_t count = 0;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(values[i]))
      continue;
    ++count;
    sum += values[i];
    min_ = std::min(min_, values[i]);
    max_ = std::max(max_, values[i]);
  }
  if (count == 0)
    return;
  const double mean = sum / static_cast<double>(count);
  double m2 = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isnan(values[i]))
      m2 += (values[i] - mean) * (values[i] - mean);
  }
  // Merge this batch's (count, mean, m2) into the running ones.
  const double total = static_cast<double>(count_ + count);
  const double delta = mean - mean_;
  mean_ += delta * static_cast<double>(count) / total;
  m2_ += m2 + delta * delta * static_cast<double>(count_) * static_cast<double>(count) / total;
  count_ += count;
}

void Normalize::FinishFit() {
  if (options_.method == "standard") {
    const double stddev = count_ > 0 ? std::sqrt(m2_ / static_cast<double>(count_)) : 0.0;
    shift_ = count_ > 0 ? mean_ : 0.0;
    scale_ = stddev > 0 ? 1.0 / stddev : 1.0;
  } else {
    const double range = count_ > 0 ? max_ - min_ : 0.0;
    shift_ = count_ > 0 ? min_ : 0.0;
    scale_ = range > 0 ? 1.0 / range : 1.0;
  }
  fitted_ = true;
}

void Normalize::TransformDense(double* values, size_t n) const {
  CheckFitted(fitted_, name());
  for (size_t i = 0; i < n; ++i)
    values[i] = (values[i] - shift_) * scale_;
}

nlohmann::json Normalize::SaveState() const {
  return {{"shift", shift_}, {"scale", scale_}, {"count", count_}};
}

void Normalize::LoadState(const nlohmann::json& state) {
  shift_ = state.at("shift").get<double>();
  scale_ = state.at("scale").get<double>();
  count_ = state.at("count").get<int64_t>();
  fitted_ = true;
}

}  // namespace aiok::etl
