#include "aiok/etl/value_dictionary.h"

#include "aiok/core/error.h"

namespace aiok::etl {
namespace {

// How far ahead the batch loops prefetch table slots: far enough to cover a trip to memory.
constexpr size_t kPrefetchAhead = 96;

}  // namespace

ValueDictionary::ValueDictionary(size_t expected) : narrow_(expected) {}

int32_t ValueDictionary::Append(int64_t value) {
  AIOK_CHECK(values_.size() < size_t{INT32_MAX}, ErrorKind::kInvalidInput,
             "more than {} distinct values in one column", INT32_MAX);
  values_.push_back(value);
  return static_cast<int32_t>(values_.size() - 1);
}

void ValueDictionary::Widen() {
  AIOK_ASSERT(!wide_);
  wide_table_ = FlatHashMap<int64_t, int64_t>(values_.size());
  for (size_t code = 0; code < values_.size(); ++code) {
    wide_table_.Set(values_[code], static_cast<int64_t>(code) + 1);
  }
  narrow_ = FlatHashMap<uint32_t, uint32_t>();
  wide_ = true;
}

void ValueDictionary::InsertAll(const int64_t* values, size_t n, int64_t skip, int32_t* codes) {
  size_t i = 0;
  if (!wide_) {
    for (; i < n; ++i) {
      if (i + kPrefetchAhead < n)
        narrow_.Prefetch(static_cast<uint32_t>(values[i + kPrefetchAhead]));
      const int64_t value = values[i];
      if (value == skip) {
        codes[i] = -1;
        continue;
      }
      if (!FitsNarrow(value))
        break;  // the rest goes through the wide table
      codes[i] = Insert(value);
    }
    if (i == n)
      return;
    Widen();
  }
  for (; i < n; ++i) {
    if (i + kPrefetchAhead < n)
      wide_table_.Prefetch(values[i + kPrefetchAhead]);
    codes[i] = values[i] == skip ? -1 : Insert(values[i]);
  }
}

void ValueDictionary::FindAll(const int64_t* values, size_t n, int32_t* codes) const {
  // Find per value; the loop per slot width keeps each prefetch out of a branch.
  if (wide_) {
    for (size_t i = 0; i < n; ++i) {
      if (i + kPrefetchAhead < n)
        wide_table_.Prefetch(values[i + kPrefetchAhead]);
      codes[i] = Find(values[i]);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (i + kPrefetchAhead < n)
        narrow_.Prefetch(static_cast<uint32_t>(values[i + kPrefetchAhead]));
      codes[i] = Find(values[i]);
    }
  }
}

}  // namespace aiok::etl
