#include "aiok/etl/feature_operators.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::etl {
namespace {

std::vector<double> ParseBoundaries(const std::string& text, const std::string& where) {
  std::vector<double> values;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos)
      end = text.size();
    const std::string item = text.substr(begin, end - begin);
    char* parsed_end = nullptr;
    const double value = std::strtod(item.c_str(), &parsed_end);
    AIOK_CHECK(!item.empty() && parsed_end == item.c_str() + item.size() && std::isfinite(value),
               ErrorKind::kConfig, "{}: boundaries: '{}' is not a number", where, item);
    AIOK_CHECK(values.empty() || value > values.back(), ErrorKind::kConfig,
               "{}: boundaries must ascend, found {} after {}", where, value, values.back());
    values.push_back(value);
    begin = end + 1;
  }
  return values;
}

}  // namespace

void Bucketize::CheckOptions(const std::string& where) const {
  AIOK_CHECK((options_.quantiles > 0) != !options_.boundaries.empty(), ErrorKind::kConfig,
             "{}: give quantiles (fitted) or boundaries (fixed), one of them", where);
  if (!options_.boundaries.empty())
    ParseBoundaries(options_.boundaries, where);
}

void Bucketize::FitDense(const double* values, size_t n) { counts_.Add(values, n); }

void Bucketize::FinishFit() {
  if (options_.quantiles == 0) {
    boundaries_ = ParseBoundaries(options_.boundaries, name());
    return;
  }
  // Boundary k is the value after the smallest value whose cumulative count reaches k/q of
  // the rows.
  const std::vector<std::pair<double, int64_t>> counts = counts_.Sorted();
  int64_t total = 0;
  for (const auto& [value, count] : counts)
    total += count;
  boundaries_.clear();
  int64_t seen = 0;
  int64_t k = 1;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i].second;
    while (k < options_.quantiles && seen * options_.quantiles >= k * total) {
      // The next bucket starts after this value.
      if (i + 1 < counts.size() &&
          (boundaries_.empty() || counts[i + 1].first > boundaries_.back()))
        boundaries_.push_back(counts[i + 1].first);
      ++k;
    }
  }
  counts_.Clear();
}

void Bucketize::TransformDenseToIds(const double* values, size_t n, int64_t* ids) const {
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(values[i])) {
      ids[i] = 0;
      continue;
    }
    ids[i] = 1 + (std::upper_bound(boundaries_.begin(), boundaries_.end(), values[i]) -
                  boundaries_.begin());
  }
}

nlohmann::json Bucketize::SaveState() const { return {{"boundaries", boundaries_}}; }

void Bucketize::LoadState(const nlohmann::json& state) {
  boundaries_ = state.at("boundaries").get<std::vector<double>>();
}

void HashedCross::TransformInputs(const std::vector<const int64_t*>& inputs, size_t n,
                                  int64_t* ids) const {
  const auto buckets = static_cast<uint64_t>(options_.buckets);
  for (size_t i = 0; i < n; ++i) {
    uint64_t h = 0x5bd1e9955bd1e995ULL;
    bool any = false;
    for (const int64_t* column : inputs) {
      any |= column[i] != kMissingValue;
      h = Mix64(h ^ static_cast<uint64_t>(column[i]));
    }
    ids[i] = any ? static_cast<int64_t>(1 + h % buckets) : 0;
  }
}

}  // namespace aiok::etl
