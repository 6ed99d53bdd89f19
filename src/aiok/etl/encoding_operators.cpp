#include "aiok/etl/encoding_operators.h"

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::etl {
template <typename OptionsT>
void CountingEncoder<OptionsT>::FitCategorical(const int64_t* values, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (values[i] != kMissingValue)
      ++counts_[values[i]];
  }
  rows_ += static_cast<int64_t>(n);
}

template <typename OptionsT>
int64_t CountingEncoder<OptionsT>::CountOf(int64_t value) const {
  const auto found = counts_.find(value);
  return found == counts_.end() ? 0 : found->second;
}

// Counts as JSON: {"values": [...], "counts": [...], "rows": N}, values ascending (stable files).
template <typename OptionsT>
nlohmann::json CountingEncoder<OptionsT>::SaveState() const {
  std::vector<std::pair<int64_t, int64_t>> sorted(counts_.begin(), counts_.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> values;
  std::vector<int64_t> numbers;
  for (const auto& [value, count] : sorted) {
    values.push_back(value);
    numbers.push_back(count);
  }
  return {{"values", values}, {"counts", numbers}, {"rows", rows_}};
}

template <typename OptionsT>
void CountingEncoder<OptionsT>::LoadState(const nlohmann::json& state) {
  const auto values = state.at("values").get<std::vector<int64_t>>();
  const auto numbers = state.at("counts").get<std::vector<int64_t>>();
  AIOK_CHECK(values.size() == numbers.size(), ErrorKind::kInvalidInput,
             "{} state: {} values but {} counts", this->name(), values.size(), numbers.size());
  counts_.clear();
  for (size_t i = 0; i < values.size(); ++i)
    counts_[values[i]] = numbers[i];
  rows_ = state.at("rows").get<int64_t>();
}

template class CountingEncoder<CountEncodeOptions>;
template class CountingEncoder<FrequencyEncodeOptions>;

void CountEncode::TransformIdsToDense(const int64_t* values, size_t n, double* out) const {
  for (size_t i = 0; i < n; ++i) {
    const auto count = static_cast<double>(CountOf(values[i]));
    out[i] = options_.log ? std::log1p(count) : count;
  }
}

void FrequencyEncode::TransformIdsToDense(const int64_t* values, size_t n, double* out) const {
  const double rows = rows_ > 0 ? static_cast<double>(rows_) : 1.0;
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<double>(CountOf(values[i])) / rows;
}

int32_t TargetEncode::FoldOf(int64_t record) const {
  return static_cast<int32_t>(
      HashPair(static_cast<uint64_t>(options_.seed), static_cast<uint64_t>(record)) %
      static_cast<uint64_t>(options_.folds));
}

void TargetEncode::FitCategoricalInFolds(const int64_t* values, const float* labels,
                                         const int32_t* folds, size_t n) {
  const auto k = static_cast<size_t>(options_.folds);
  fold_sums_.resize(k, 0.0);
  fold_counts_.resize(k, 0);
  for (size_t i = 0; i < n; ++i) {
    const auto f = static_cast<size_t>(folds == nullptr ? 0 : folds[i]);
    Stats& stats = stats_[values[i]];
    if (stats.sums.empty()) {
      stats.sums.assign(k, 0.0);
      stats.counts.assign(k, 0);
    }
    stats.sums[f] += labels[i];
    ++stats.counts[f];
    fold_sums_[f] += labels[i];
    ++fold_counts_[f];
  }
}

void TargetEncode::FitCategoricalWithLabels(const int64_t* values, const float* labels, size_t n) {
  FitCategoricalInFolds(values, labels, nullptr, n);
}

double TargetEncode::Smoothed(double sum, double count, double prior) const {
  const double weight = count + options_.smoothing;
  return weight > 0.0 ? (sum + prior * options_.smoothing) / weight : prior;
}

void TargetEncode::FinishFit() {
  double sum = 0.0;
  int64_t count = 0;
  for (size_t f = 0; f < fold_sums_.size(); ++f) {
    sum += fold_sums_[f];
    count += fold_counts_[f];
  }
  prior_ = count > 0 ? sum / static_cast<double>(count) : 0.0;
  encoded_.clear();
  for (const auto& [value, stats] : stats_) {
    double value_sum = 0.0;
    int64_t value_count = 0;
    for (size_t f = 0; f < stats.sums.size(); ++f) {
      value_sum += stats.sums[f];
      value_count += stats.counts[f];
    }
    encoded_[value] = Smoothed(value_sum, static_cast<double>(value_count), prior_);
  }
}

void TargetEncode::TransformIdsToDense(const int64_t* values, size_t n, double* out) const {
  for (size_t i = 0; i < n; ++i) {
    const auto found = encoded_.find(values[i]);
    out[i] = found == encoded_.end() ? prior_ : found->second;
  }
}

void TargetEncode::TransformTrainRows(const int64_t* values, const int32_t* folds, size_t n,
                                      double* out) const {
  AIOK_CHECK(!fold_sums_.empty() || n == 0, ErrorKind::kInternal,
             "target_encode: train rows are encoded by the process that fitted");
  double total_sum = 0.0;
  int64_t total_count = 0;
  for (size_t f = 0; f < fold_sums_.size(); ++f) {
    total_sum += fold_sums_[f];
    total_count += fold_counts_[f];
  }
  for (size_t i = 0; i < n; ++i) {
    const auto f = static_cast<size_t>(folds[i]);
    // The other folds' rows: their mean is this fold's prior, their rows of the value its
    // statistics.
    const auto other_rows = static_cast<double>(total_count - fold_counts_[f]);
    const double prior = other_rows > 0 ? (total_sum - fold_sums_[f]) / other_rows : prior_;
    const auto found = stats_.find(values[i]);
    if (found == stats_.end()) {
      out[i] = prior;
      continue;
    }
    double sum = 0.0;
    int64_t count = 0;
    for (size_t g = 0; g < found->second.sums.size(); ++g) {
      if (g == f)
        continue;
      sum += found->second.sums[g];
      count += found->second.counts[g];
    }
    out[i] = Smoothed(sum, static_cast<double>(count), prior);
  }
}

nlohmann::json TargetEncode::SaveState() const {
  std::vector<std::pair<int64_t, double>> sorted(encoded_.begin(), encoded_.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> values;
  std::vector<double> encodings;
  for (const auto& [value, encoding] : sorted) {
    values.push_back(value);
    encodings.push_back(encoding);
  }
  return {{"prior", prior_}, {"values", values}, {"encodings", encodings}};
}

void TargetEncode::LoadState(const nlohmann::json& state) {
  prior_ = state.at("prior").get<double>();
  const auto values = state.at("values").get<std::vector<int64_t>>();
  const auto encodings = state.at("encodings").get<std::vector<double>>();
  AIOK_CHECK(values.size() == encodings.size(), ErrorKind::kInvalidInput,
             "target_encode state: {} values but {} encodings", values.size(), encodings.size());
  encoded_.clear();
  for (size_t i = 0; i < values.size(); ++i)
    encoded_[values[i]] = encodings[i];
}

}  // namespace aiok::etl
