#include "aiok/etl/encoding_operators.h"

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::etl {
namespace {

// How far ahead loops over codes prefetch their slots: the large columns' arrays outgrow L2.
constexpr size_t kPrefetchAhead = 64;

// Sorts (value << 32 | code) items by their value, the upper 32 bits: an LSD radix sort, 3
// passes of 11 bits. Saving a large column's state sorted 300k values per encoder; std::sort
// of the packed integers took 3% of the benchmark's samples.
void SortByUpper32Bits(std::vector<uint64_t>& items) {
  constexpr int kBits = 11;
  constexpr uint64_t kMask = (uint64_t{1} << kBits) - 1;
  std::vector<uint64_t> buffer(items.size());
  for (int shift = 32; shift < 64; shift += kBits) {
    std::vector<size_t> starts(kMask + 1, 0);
    for (const uint64_t item : items)
      ++starts[(item >> shift) & kMask];
    size_t sum = 0;
    for (size_t& start : starts) {
      const size_t count = start;
      start = sum;
      sum += count;
    }
    for (const uint64_t item : items)
      buffer[starts[(item >> shift) & kMask]++] = item;
    items.swap(buffer);
  }
}

// The codes whose slot `keep` holds, by ascending value: the saved states list values in
// order so that files are stable. Values that fit 32 bits (every Criteo category) sort as one
// packed integer each.
template <typename Keep>
std::vector<int32_t> CodesByValue(const std::vector<int64_t>& values, Keep&& keep) {
  std::vector<int32_t> codes;
  bool narrow = true;
  for (size_t code = 0; code < values.size(); ++code) {
    if (keep(code)) {
      codes.push_back(static_cast<int32_t>(code));
      narrow &= values[code] >= 0 && values[code] <= int64_t{UINT32_MAX};
    }
  }
  if (narrow) {
    std::vector<uint64_t> packed(codes.size());
    for (size_t i = 0; i < codes.size(); ++i)
      packed[i] = static_cast<uint64_t>(values[codes[i]]) << 32 | static_cast<uint32_t>(codes[i]);
    SortByUpper32Bits(packed);  // values are distinct: the order is the value order
    for (size_t i = 0; i < codes.size(); ++i)
      codes[i] = static_cast<int32_t>(packed[i] & UINT32_MAX);
  } else {
    std::sort(codes.begin(), codes.end(),
              [&](int32_t a, int32_t b) { return values[a] < values[b]; });
  }
  return codes;
}

}  // namespace

void EncoderCodes::Adopt(std::vector<int64_t> values) {
  adopted_ = true;
  adopted_values_ = std::move(values);
  dictionary_ = ValueDictionary();
  lookup_.reset();
}

void EncoderCodes::Insert(const int64_t* values, size_t n, int32_t* codes) {
  AIOK_ASSERT(!adopted_);
  dictionary_.InsertAll(values, n, kMissingValue, codes);
}

void EncoderCodes::Assign(const std::vector<int64_t>& values, const char* op) {
  adopted_ = false;
  adopted_values_ = {};
  lookup_.reset();
  dictionary_ = ValueDictionary(values.size());
  std::vector<int32_t> codes(values.size());
  dictionary_.InsertAll(values.data(), values.size(), kMissingValue, codes.data());
  for (size_t i = 0; i < values.size(); ++i) {
    AIOK_CHECK(codes[i] == static_cast<int32_t>(i), ErrorKind::kInvalidInput,
               "{} state: value {} {}", op, values[i],
               values[i] == kMissingValue ? "marks a missing value and cannot be listed here"
                                          : "is listed twice");
  }
}

void EncoderCodes::Find(const int64_t* values, size_t n, int32_t* codes) const {
  const ValueDictionary* dictionary = &dictionary_;
  if (adopted_) {
    std::lock_guard<std::mutex> lock(lookup_mutex_);
    if (!lookup_) {
      auto lookup = std::make_unique<ValueDictionary>(adopted_values_.size());
      std::vector<int32_t> ignored(adopted_values_.size());
      lookup->InsertAll(adopted_values_.data(), adopted_values_.size(), kMissingValue,
                        ignored.data());
      lookup_ = std::move(lookup);
    }
    dictionary = lookup_.get();
  }
  dictionary->FindAll(values, n, codes);
  for (size_t i = 0; i < n; ++i) {
    if (codes[i] < 0 && values[i] != kMissingValue)
      codes[i] = kUnseen;
  }
}

template <typename OptionsT>
void CountingEncoder<OptionsT>::FitCategorical(const int64_t* values, size_t n) {
  std::vector<int32_t> codes(n);
  codes_.Insert(values, n, codes.data());
  counts_.resize(codes_.size() + EncoderCodes::kFront, 0);
  FitCodes(codes.data(), nullptr, nullptr, n);
}

template <typename OptionsT>
void CountingEncoder<OptionsT>::BeginCodes(std::vector<int64_t> values) {
  codes_.Adopt(std::move(values));
  counts_.assign(codes_.size() + EncoderCodes::kFront, 0);
}

template <typename OptionsT>
void CountingEncoder<OptionsT>::FitCodes(const int32_t* codes, const float*, const int32_t*,
                                         size_t n) {
  // Missing values are counted too, in their slot, and forgotten in FinishFit: no branch.
  int64_t* counts = counts_.data() + EncoderCodes::kFront;
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n)
      __builtin_prefetch(&counts[codes[i + kPrefetchAhead]], 1);
    AIOK_ASSERT(codes[i] >= -1 && static_cast<size_t>(codes[i] + 2) < counts_.size());
    ++counts[codes[i]];
  }
  rows_ += static_cast<int64_t>(n);
}

template <typename OptionsT>
void CountingEncoder<OptionsT>::FinishFit() {
  counts_.resize(codes_.size() + EncoderCodes::kFront, 0);
  counts_[0] = 0;  // unseen
  counts_[1] = 0;  // missing: not a value that is counted
  encoded_.resize(counts_.size());
  for (size_t slot = 0; slot < counts_.size(); ++slot)
    encoded_[slot] = FromCount(counts_[slot]);
}

template <typename OptionsT>
void CountingEncoder<OptionsT>::TransformCodes(const int32_t* codes, const int32_t*, size_t n,
                                               double* out) const {
  AIOK_CHECK(!encoded_.empty(), ErrorKind::kInternal, "{}: transform before fit", this->name());
  const double* encoded = encoded_.data() + EncoderCodes::kFront;
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n)
      __builtin_prefetch(&encoded[codes[i + kPrefetchAhead]]);
    AIOK_ASSERT(codes[i] >= EncoderCodes::kUnseen &&
                static_cast<size_t>(codes[i] + 2) < encoded_.size());
    out[i] = encoded[codes[i]];
  }
}

template <typename OptionsT>
void CountingEncoder<OptionsT>::TransformIdsToDense(const int64_t* values, size_t n,
                                                    double* out) const {
  std::vector<int32_t> codes(n);
  codes_.Find(values, n, codes.data());
  TransformCodes(codes.data(), nullptr, n, out);
}

// Counts as JSON: {"values": [...], "counts": [...], "rows": N}, values ascending (stable
// files), only values with train rows.
template <typename OptionsT>
nlohmann::json CountingEncoder<OptionsT>::SaveState() const {
  const int64_t* counts = counts_.data() + EncoderCodes::kFront;
  const std::vector<int32_t> order =
      CodesByValue(codes_.values(), [&](size_t code) { return counts[code] > 0; });
  std::vector<int64_t> values(order.size());
  std::vector<int64_t> numbers(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    values[i] = codes_.values()[order[i]];
    numbers[i] = counts[order[i]];
  }
  return {{"values", values}, {"counts", numbers}, {"rows", rows_}};
}

template <typename OptionsT>
void CountingEncoder<OptionsT>::LoadState(const nlohmann::json& state) {
  const auto values = state.at("values").get<std::vector<int64_t>>();
  const auto numbers = state.at("counts").get<std::vector<int64_t>>();
  AIOK_CHECK(values.size() == numbers.size(), ErrorKind::kInvalidInput,
             "{} state: {} values but {} counts", this->name(), values.size(), numbers.size());
  codes_.Assign(values, this->name());
  counts_.assign(EncoderCodes::kFront, 0);
  counts_.insert(counts_.end(), numbers.begin(), numbers.end());
  rows_ = state.at("rows").get<int64_t>();
  FinishFit();
}

template class CountingEncoder<CountEncodeOptions>;
template class CountingEncoder<FrequencyEncodeOptions>;

double CountEncode::FromCount(int64_t count) const {
  const auto value = static_cast<double>(count);
  return options_.log ? std::log1p(value) : value;
}

double FrequencyEncode::FromCount(int64_t count) const {
  const double rows = rows_ > 0 ? static_cast<double>(rows_) : 1.0;
  return static_cast<double>(count) / rows;
}

int32_t TargetEncode::FoldOf(int64_t record) const {
  return static_cast<int32_t>(
      HashPair(static_cast<uint64_t>(options_.seed), static_cast<uint64_t>(record)) %
      static_cast<uint64_t>(options_.folds));
}

void TargetEncode::BeginCodes(std::vector<int64_t> values) {
  codes_.Adopt(std::move(values));
  stats_.assign((codes_.size() + EncoderCodes::kFront) * width(), 0.0);
}

void TargetEncode::FitCategoricalInFolds(const int64_t* values, const float* labels,
                                         const int32_t* folds, size_t n) {
  std::vector<int32_t> codes(n);
  codes_.Insert(values, n, codes.data());
  stats_.resize((codes_.size() + EncoderCodes::kFront) * width(), 0.0);
  FitCodes(codes.data(), labels, folds, n);
}

void TargetEncode::FitCategoricalWithLabels(const int64_t* values, const float* labels, size_t n) {
  FitCategoricalInFolds(values, labels, nullptr, n);
}

void TargetEncode::FitCodes(const int32_t* codes, const float* labels, const int32_t* folds,
                            size_t n) {
  const size_t k = this->folds();
  const size_t width = this->width();
  fold_sums_.resize(k, 0.0);
  fold_counts_.resize(k, 0);
  double* stats = stats_.data() + EncoderCodes::kFront * width;
  const auto slots = static_cast<int64_t>(stats_.size() / width);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n)
      __builtin_prefetch(&stats[codes[i + kPrefetchAhead] * static_cast<int64_t>(width)], 1);
    AIOK_ASSERT(codes[i] >= -1 && codes[i] + 2 < slots);
    const auto f = static_cast<size_t>(folds == nullptr ? 0 : folds[i]);
    double* s = stats + codes[i] * static_cast<int64_t>(width);
    s[f] += labels[i];
    s[k + f] += 1.0;
    fold_sums_[f] += labels[i];
    ++fold_counts_[f];
  }
}

double TargetEncode::Smoothed(double sum, double count, double prior) const {
  const double weight = count + options_.smoothing;
  return weight > 0.0 ? (sum + prior * options_.smoothing) / weight : prior;
}

void TargetEncode::FinishFit() {
  const size_t k = folds();
  const size_t width = this->width();
  fold_sums_.resize(k, 0.0);
  fold_counts_.resize(k, 0);
  stats_.resize((codes_.size() + EncoderCodes::kFront) * width, 0.0);
  double sum = 0.0;
  int64_t count = 0;
  for (size_t f = 0; f < k; ++f) {
    sum += fold_sums_[f];
    count += fold_counts_[f];
  }
  prior_ = count > 0 ? sum / static_cast<double>(count) : 0.0;
  fold_priors_.resize(k);
  for (size_t f = 0; f < k; ++f) {
    // The other folds' rows: their mean is this fold's prior.
    const auto other_rows = static_cast<double>(count - fold_counts_[f]);
    fold_priors_[f] = other_rows > 0 ? (sum - fold_sums_[f]) / other_rows : prior_;
  }
  const size_t slots = stats_.size() / width;
  encoded_.resize(slots);
  totals_.resize(2 * slots);
  // Out of fold, per slot and fold: what a train row of that fold gets. One load per row in
  // pass 2 instead of the value's per-fold sums (two cache lines) and a division.
  out_of_fold_.assign(k > 1 ? slots * k : 0, 0.0);
  for (size_t slot = 0; slot < slots; ++slot) {
    const double* s = stats_.data() + slot * width;
    double value_sum = 0.0;
    double value_count = 0.0;
    for (size_t f = 0; f < k; ++f) {
      value_sum += s[f];
      value_count += s[k + f];
    }
    totals_[2 * slot] = value_sum;
    totals_[2 * slot + 1] = value_count;
    // A value without train rows (unseen, or only in valid and test rows) takes the prior.
    encoded_[slot] = value_count > 0 ? Smoothed(value_sum, value_count, prior_) : prior_;
    if (k == 1)
      continue;
    for (size_t f = 0; f < k; ++f) {
      // The other folds' rows of the value: all of its rows but this fold's (as pandas
      // computes it; exact for a binary label, whose sums are whole numbers). A value the
      // fit never saw takes the fold's prior.
      out_of_fold_[slot * k + f] =
          slot == 0 ? fold_priors_[f]
                    : Smoothed(value_sum - s[f], value_count - s[k + f], fold_priors_[f]);
    }
  }
  stats_ = {};  // the per-fold sums are in out_of_fold_ and totals_ now
}

void TargetEncode::TransformCodes(const int32_t* codes, const int32_t* folds, size_t n,
                                  double* out) const {
  AIOK_CHECK(!encoded_.empty(), ErrorKind::kInternal, "target_encode: transform before fit");
  const size_t k = this->folds();
  const double* encoded = encoded_.data() + EncoderCodes::kFront;
  if (folds == nullptr || k == 1) {  // one fold: train rows are encoded in fold
    for (size_t i = 0; i < n; ++i) {
      if (i + kPrefetchAhead < n)
        __builtin_prefetch(&encoded[codes[i + kPrefetchAhead]]);
      out[i] = encoded[codes[i]];
    }
    return;
  }
  AIOK_CHECK(n == 0 || out_of_fold_.size() == encoded_.size() * k, ErrorKind::kInternal,
             "target_encode: train rows are encoded by the process that fitted");
  const double* out_of_fold = out_of_fold_.data() + EncoderCodes::kFront * k;
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n)
      __builtin_prefetch(&out_of_fold[codes[i + kPrefetchAhead] * static_cast<int64_t>(k)]);
    out[i] = folds[i] < 0 ? encoded[codes[i]]
                          : out_of_fold[codes[i] * static_cast<int64_t>(k) + folds[i]];
  }
}

void TargetEncode::TransformIdsToDense(const int64_t* values, size_t n, double* out) const {
  std::vector<int32_t> codes(n);
  codes_.Find(values, n, codes.data());
  TransformCodes(codes.data(), nullptr, n, out);
}

void TargetEncode::TransformTrainRows(const int64_t* values, const int32_t* folds, size_t n,
                                      double* out) const {
  std::vector<int32_t> codes(n);
  codes_.Find(values, n, codes.data());
  TransformCodes(codes.data(), folds, n, out);
}

// {"prior": p, "values": [...], "counts": [...], "sums": [...]}: every value with train rows
// (missing, -1, among them when it had any), ascending, with its train rows and their label
// sum — whole numbers for a binary label, written as integers. The encodings follow from them
// (Smoothed), exactly as the fit computed them; writing 300k encodings as 17-digit doubles
// took twice as long as these integers and twice the bytes. States that list "encodings"
// instead (saved before) still load. A state loaded from "encodings" saves them back.
nlohmann::json TargetEncode::SaveState() const {
  const bool totals = !totals_.empty();
  auto has_rows = [&](size_t slot) {
    if (!totals)  // a loaded state of encodings: what it listed
      return slot >= EncoderCodes::kFront || (slot == 1 && missing_listed_);
    return TotalOf(slot, 1) > 0;
  };
  const std::vector<int32_t> order = CodesByValue(
      codes_.values(), [&](size_t code) { return has_rows(code + EncoderCodes::kFront); });
  std::vector<size_t> slots;
  slots.reserve(order.size() + 1);
  if (has_rows(1))
    slots.push_back(1);
  for (const int32_t code : order)
    slots.push_back(static_cast<size_t>(code) + EncoderCodes::kFront);
  std::vector<int64_t> values(slots.size());
  for (size_t i = 0; i < slots.size(); ++i)
    values[i] = slots[i] == 1 ? kMissingValue : codes_.values()[slots[i] - EncoderCodes::kFront];
  nlohmann::json state = {{"prior", prior_}, {"values", std::move(values)}};
  if (!totals) {
    std::vector<double> encodings(slots.size());
    for (size_t i = 0; i < slots.size(); ++i)
      encodings[i] = encoded_[slots[i]];
    state["encodings"] = std::move(encodings);
    return state;
  }
  std::vector<int64_t> counts(slots.size());
  std::vector<double> sums(slots.size());
  bool whole = true;
  for (size_t i = 0; i < slots.size(); ++i) {
    counts[i] = static_cast<int64_t>(TotalOf(slots[i], 1));
    sums[i] = TotalOf(slots[i], 0);
    whole &= sums[i] == std::floor(sums[i]) && std::abs(sums[i]) < 0x1p53;
  }
  state["counts"] = std::move(counts);
  if (whole) {
    state["sums"] = std::vector<int64_t>(sums.begin(), sums.end());
  } else {
    state["sums"] = std::move(sums);
  }
  return state;
}

void TargetEncode::LoadState(const nlohmann::json& state) {
  prior_ = state.at("prior").get<double>();
  auto values = state.at("values").get<std::vector<int64_t>>();
  const bool totals = !state.contains("encodings");
  // Per listed value: its encoding (states of encodings), or its count and sum.
  std::vector<double> encodings;
  std::vector<double> counts;
  std::vector<double> sums;
  if (totals) {
    counts = state.at("counts").get<std::vector<double>>();
    sums = state.at("sums").get<std::vector<double>>();
    AIOK_CHECK(counts.size() == values.size() && sums.size() == values.size(),
               ErrorKind::kInvalidInput, "target_encode state: {} values, {} counts, {} sums",
               values.size(), counts.size(), sums.size());
    for (size_t i = 0; i < values.size(); ++i) {
      AIOK_CHECK(counts[i] >= 1 && counts[i] == std::floor(counts[i]), ErrorKind::kInvalidInput,
                 "target_encode state: value {}: expected a count of 1 or more rows, found {}",
                 values[i], counts[i]);
      encodings.push_back(Smoothed(sums[i], counts[i], prior_));
    }
  } else {
    encodings = state.at("encodings").get<std::vector<double>>();
    AIOK_CHECK(values.size() == encodings.size(), ErrorKind::kInvalidInput,
               "target_encode state: {} values but {} encodings", values.size(), encodings.size());
  }
  // Missing values without train rows take the prior.
  double missing = prior_;
  double missing_sum = 0.0;
  double missing_count = 0.0;
  const auto found = std::find(values.begin(), values.end(), kMissingValue);
  missing_listed_ = found != values.end();
  if (missing_listed_) {
    const auto at = static_cast<size_t>(found - values.begin());
    missing = encodings[at];
    encodings.erase(encodings.begin() + static_cast<std::ptrdiff_t>(at));
    if (totals) {
      missing_sum = sums[at];
      missing_count = counts[at];
      sums.erase(sums.begin() + static_cast<std::ptrdiff_t>(at));
      counts.erase(counts.begin() + static_cast<std::ptrdiff_t>(at));
    }
    values.erase(found);
  }
  codes_.Assign(values, name());
  encoded_.assign(EncoderCodes::kFront, prior_);
  encoded_[1] = missing;
  encoded_.insert(encoded_.end(), encodings.begin(), encodings.end());
  totals_.clear();
  if (totals) {
    totals_.assign(2 * EncoderCodes::kFront, 0.0);
    totals_[2] = missing_sum;
    totals_[3] = missing_count;
    for (size_t i = 0; i < values.size(); ++i) {
      totals_.push_back(sums[i]);
      totals_.push_back(counts[i]);
    }
  }
  // Only every train row's statistics travel: train rows are encoded where they were fitted.
  stats_.clear();
  out_of_fold_.clear();
  fold_sums_.clear();
  fold_counts_.clear();
  fold_priors_.clear();
}

}  // namespace aiok::etl
