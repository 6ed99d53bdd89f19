#include "aiok/etl/categorical_operators.h"

#include <algorithm>
#include <numeric>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/core/json_fields.h"

namespace aiok::etl {

namespace {
// How far ahead loops over values prefetch table slots: far enough to cover a trip to memory.
constexpr size_t kPrefetchAhead = 64;
}  // namespace

void Categorify::FitCategorical(const int64_t* values, size_t n) {
  std::vector<int32_t> codes(n);
  FitEncode(values, n, n, codes.data());
}

void Categorify::FitEncode(const int64_t* values, size_t n, size_t train_rows, int32_t* codes) {
  // Two passes, each with its memory accesses known ahead and prefetched: codes first (hash
  // probes), then the counts of the train rows' codes (array increments). Done in one loop,
  // the count's address is known only after the probe and both stall.
  seen_.InsertAll(values, n, kMissingValue, codes);
  seen_counts_.resize(seen_.size() + 1, 0);
  int64_t* counts = seen_counts_.data() + 1;  // counts[-1] takes the missing values
  const size_t counted = std::min(n, train_rows);
  for (size_t i = 0; i < counted; ++i) {
    if (i + kPrefetchAhead < counted)
      __builtin_prefetch(&counts[codes[i + kPrefetchAhead]], 1);
    ++counts[codes[i]];
  }
}

void Categorify::UncountCodes(const int32_t* codes, size_t n) {
  AIOK_CHECK(!fitted_, ErrorKind::kInternal, "categorify: uncount after the fit finished");
  int64_t* counts = seen_counts_.data() + 1;  // counts[-1] takes the missing values
  const auto known = static_cast<int32_t>(seen_counts_.size()) - 1;
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n)
      __builtin_prefetch(&counts[codes[i + kPrefetchAhead]], 1);
    AIOK_ASSERT(codes[i] >= -1 && codes[i] < known);
    --counts[codes[i]];
  }
}

void Categorify::FinishFit() {
  seen_counts_.resize(seen_.size() + 1, 0);  // FitCategorical may not have run
  const int64_t* counts = seen_counts_.data() + 1;
  const auto seen = static_cast<int32_t>(seen_.size());
  const auto& values = seen_.values();
  std::vector<int32_t> kept;  // codes of seen_, in id order
  bool fits_32_bits = true;
  for (int32_t code = 0; code < seen; ++code) {
    if (counts[code] >= options_.freq_threshold) {
      kept.push_back(code);
      fits_32_bits &= counts[code] <= int64_t{UINT32_MAX} && values[code] >= 0 &&
                      values[code] <= int64_t{UINT32_MAX};
    }
  }
  if (fits_32_bits) {
    // The same order as below as one integer per value (higher count, then lower value),
    // for every Criteo column: sorting plain integers is several times faster than sorting
    // through counts[] and values[].
    std::vector<std::pair<uint64_t, int32_t>> keyed;
    keyed.reserve(kept.size());
    for (int32_t code : kept) {
      keyed.emplace_back((uint64_t{UINT32_MAX} - static_cast<uint64_t>(counts[code])) << 32 |
                             static_cast<uint64_t>(values[code]),
                         code);
    }
    std::sort(keyed.begin(), keyed.end());
    for (size_t i = 0; i < keyed.size(); ++i)
      kept[i] = keyed[i].second;
  } else {
    std::sort(kept.begin(), kept.end(), [&](int32_t a, int32_t b) {
      return counts[a] != counts[b] ? counts[a] > counts[b] : values[a] < values[b];
    });
  }
  if (options_.max_size > 0 && static_cast<int64_t>(kept.size()) > options_.max_size) {
    kept.resize(static_cast<size_t>(options_.max_size));
  }
  vocabulary_.clear();
  vocabulary_counts_.clear();
  // code_ids_[code + 1]: the id of each code, and in front the id of missing values (code -1).
  code_ids_.assign(static_cast<size_t>(seen) + 1, static_cast<int32_t>(kRareId));
  code_ids_[0] = static_cast<int32_t>(kMissingId);
  for (size_t i = 0; i < kept.size(); ++i) {
    vocabulary_.push_back(values[kept[i]]);
    vocabulary_counts_.push_back(counts[kept[i]]);
    code_ids_[kept[i] + 1] = static_cast<int32_t>(kFirstVocabularyId + static_cast<int64_t>(i));
  }
  narrow_code_ids_.clear();
  if (cardinality() <= int64_t{UINT16_MAX} + 1)
    narrow_code_ids_.assign(code_ids_.begin(), code_ids_.end());
  seen_ = ValueDictionary();
  seen_counts_ = {};
  BuildLookup();
}

void Categorify::BuildLookup() {
  AIOK_CHECK(vocabulary_.size() < size_t{INT32_MAX} - kFirstVocabularyId, ErrorKind::kInvalidInput,
             "categorify: {} values is too many", vocabulary_.size());
  lookup_ = ValueDictionary(vocabulary_.size());
  for (int64_t value : vocabulary_) {
    AIOK_CHECK(value != kMissingValue, ErrorKind::kInvalidInput,
               "categorify state: {} marks a missing value and cannot be in the vocabulary",
               kMissingValue);
    lookup_.Insert(value);
  }
  fitted_ = true;
}

void Categorify::TransformCategorical(const int64_t* values, size_t n, int64_t* ids) const {
  AIOK_CHECK(fitted_, ErrorKind::kInternal, "categorify: transform before fit");
  std::vector<int32_t> indexes(n);
  lookup_.FindAll(values, n, indexes.data());
  for (size_t i = 0; i < n; ++i) {
    ids[i] = values[i] == kMissingValue ? kMissingId
             : indexes[i] < 0           ? kRareId
                                        : kFirstVocabularyId + indexes[i];
  }
}

namespace {

template <typename Id>
void MapCodesThrough(const Id* code_ids, int32_t known, const int32_t* codes, size_t n,
                     int32_t* ids) {
  const Id* id_of = code_ids + 1;  // id_of[-1] is the missing values' id
  for (size_t i = 0; i < n; ++i) {
    // A large column's table outgrows L2; its upcoming entries are known, so fetch them early.
    if (i + kPrefetchAhead < n)
      __builtin_prefetch(&id_of[codes[i + kPrefetchAhead]]);
    AIOK_ASSERT(codes[i] >= -1 && codes[i] < known);
    ids[i] = static_cast<int32_t>(id_of[codes[i]]);
  }
}
}  // namespace

void Categorify::MapCodes(const int32_t* codes, size_t n, int32_t* ids) const {
  AIOK_CHECK(fitted_, ErrorKind::kInternal, "categorify: map codes before fit");
  const auto known = static_cast<int32_t>(code_ids_.size()) - 1;
  if (!narrow_code_ids_.empty()) {
    MapCodesThrough(narrow_code_ids_.data(), known, codes, n, ids);
  } else {
    MapCodesThrough(code_ids_.data(), known, codes, n, ids);
  }
}

nlohmann::json Categorify::SaveState() const {
  return {{"values", vocabulary_}, {"counts", vocabulary_counts_}};
}

void Categorify::LoadState(const nlohmann::json& state) {
  // Checked reads: nlohmann's own get<int64_t> of a float beyond int64 is undefined (a
  // fuzzing finding in a damaged pipeline.json).
  const JsonField fields(state, "categorify state");
  vocabulary_ = fields["values"].Get<std::vector<int64_t>>();
  vocabulary_counts_ = fields["counts"].Get<std::vector<int64_t>>();
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
