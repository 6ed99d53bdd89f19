#include "aiok/etl/categorical_operators.h"

#include <algorithm>
#include <numeric>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::etl {

namespace {
constexpr size_t kPrefetchAhead = 8;
bool FitsNarrow(int64_t value) { return value >= 0 && value <= int64_t{UINT32_MAX}; }
}  // namespace

void Categorify::WidenCounts() {
  narrow_counts_.ForEach([&](uint32_t value, uint32_t count) {
    wide_counts_.Add(value, count);
  });
  narrow_counts_.Clear();
  wide_ = true;
}

void Categorify::FitCategorical(const int64_t* values, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) {
      const int64_t ahead = values[i + kPrefetchAhead];
      if (wide_) {
        wide_counts_.Prefetch(ahead);
      } else {
        narrow_counts_.Prefetch(static_cast<uint32_t>(ahead));
      }
    }
    const int64_t value = values[i];
    if (value == kMissingValue) continue;
    if (!wide_ && !FitsNarrow(value)) WidenCounts();
    if (wide_) {
      wide_counts_.Increment(value);
    } else {
      narrow_counts_.Increment(static_cast<uint32_t>(value));
    }
  }
}

void Categorify::FinishFit() {
  std::vector<std::pair<int64_t, int64_t>> kept;  // (value, count)
  auto keep = [&](int64_t value, int64_t count) {
    if (count >= options_.freq_threshold) kept.emplace_back(value, count);
  };
  narrow_counts_.ForEach(keep);
  wide_counts_.ForEach(keep);
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
  narrow_counts_.Clear();
  wide_counts_.Clear();
  BuildLookup();
}

void Categorify::BuildLookup() {
  AIOK_CHECK(vocabulary_.size() < size_t{UINT32_MAX} - kFirstVocabularyId,
             ErrorKind::kInvalidInput, "categorify: {} values is too many", vocabulary_.size());
  wide_lookup_used_ = !std::all_of(vocabulary_.begin(), vocabulary_.end(), FitsNarrow);
  narrow_lookup_ = FlatHashMap<uint32_t, uint32_t>(wide_lookup_used_ ? 0 : vocabulary_.size());
  wide_lookup_ = FlatHashMap<int64_t, int64_t>(wide_lookup_used_ ? vocabulary_.size() : 0);
  for (size_t i = 0; i < vocabulary_.size(); ++i) {
    AIOK_CHECK(vocabulary_[i] != kMissingValue, ErrorKind::kInvalidInput,
               "categorify state: {} marks a missing value and cannot be in the vocabulary",
               kMissingValue);
    const int64_t id = kFirstVocabularyId + static_cast<int64_t>(i);
    if (wide_lookup_used_) {
      wide_lookup_.Set(vocabulary_[i], id);
    } else {
      narrow_lookup_.Set(static_cast<uint32_t>(vocabulary_[i]), static_cast<uint32_t>(id));
    }
  }
  fitted_ = true;
}

void Categorify::TransformCategorical(const int64_t* values, size_t n, int64_t* ids) const {
  AIOK_CHECK(fitted_, ErrorKind::kInternal, "categorify: transform before fit");
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) {
      const int64_t ahead = values[i + kPrefetchAhead];
      if (wide_lookup_used_) {
        wide_lookup_.Prefetch(ahead);
      } else {
        narrow_lookup_.Prefetch(static_cast<uint32_t>(ahead));
      }
    }
    const int64_t value = values[i];
    if (value == kMissingValue) {
      ids[i] = kMissingId;
      continue;
    }
    // Get() answers 0 for an absent value; a value outside 32 bits cannot be in a narrow
    // vocabulary.
    const int64_t id = wide_lookup_used_ ? wide_lookup_.Get(value)
                       : FitsNarrow(value) ? narrow_lookup_.Get(static_cast<uint32_t>(value))
                                           : 0;
    ids[i] = id == 0 ? kRareId : id;
  }
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
  const size_t distinct = wide_lookup_used_ ? wide_lookup_.size() : narrow_lookup_.size();
  AIOK_CHECK(distinct == vocabulary_.size(), ErrorKind::kInvalidInput,
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
