#include "aiok/etl/categorical_operators.h"

#include <algorithm>
#include <numeric>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::etl {

void Categorify::FitCategorical(const int64_t* values, size_t n) {
  counts_.CountKeys(values, n, kMissingValue);
}

void Categorify::FinishFit() {
  std::vector<std::pair<int64_t, int64_t>> kept;  // (value, count)
  counts_.ForEach([&](int64_t value, int64_t count) {
    if (count >= options_.freq_threshold) kept.emplace_back(value, count);
  });
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (options_.max_size > 0 && static_cast<int64_t>(kept.size()) > options_.max_size) {
    kept.resize(static_cast<size_t>(options_.max_size));
  }
  vocabulary_.clear();
  vocabulary_counts_.clear();
  for (const auto& [value, count] : kept) {
    vocabulary_.push_back(value);
    vocabulary_counts_.push_back(count);
  }
  counts_.Clear();
  BuildLookup();
}

void Categorify::BuildLookup() {
  lookup_ = IntHashMap(vocabulary_.size());
  for (size_t i = 0; i < vocabulary_.size(); ++i) {
    AIOK_CHECK(vocabulary_[i] != IntHashMap::kEmptyKey && vocabulary_[i] != kMissingValue,
               ErrorKind::kInvalidInput, "categorify state: {} cannot be a value", vocabulary_[i]);
    lookup_[vocabulary_[i]] = kFirstVocabularyId + static_cast<int64_t>(i);
  }
  fitted_ = true;
}

void Categorify::TransformCategorical(const int64_t* values, size_t n, int64_t* ids) const {
  AIOK_CHECK(fitted_, ErrorKind::kInternal, "categorify: transform before fit");
  lookup_.Lookup(values, n, kMissingValue, kMissingId, kRareId, ids);
}

nlohmann::json Categorify::SaveState() const {
  return {{"values", vocabulary_}, {"counts", vocabulary_counts_}};
}

void Categorify::LoadState(const nlohmann::json& state) {
  vocabulary_ = state.at("values").get<std::vector<int64_t>>();
  vocabulary_counts_ = state.at("counts").get<std::vector<int64_t>>();
  AIOK_CHECK(vocabulary_.size() == vocabulary_counts_.size(), ErrorKind::kInvalidInput,
             "categorify state: {} values but {} counts", vocabulary_.size(),
             vocabulary_counts_.size());
  BuildLookup();
  AIOK_CHECK(lookup_.size() == vocabulary_.size(), ErrorKind::kInvalidInput,
             "categorify state: the vocabulary repeats a value");
}

void HashBucket::TransformCategorical(const int64_t* values, size_t n, int64_t* ids) const {
  const auto buckets = static_cast<uint64_t>(options_.buckets);
  for (size_t i = 0; i < n; ++i) {
    ids[i] = values[i] == kMissingValue
                 ? 0
                 : 1 + static_cast<int64_t>(Mix64(static_cast<uint64_t>(values[i])) % buckets);
  }
}

}  // namespace aiok::etl
