#include "aiok/etl/value_dictionary.h"

#include "aiok/core/error.h"

namespace aiok::etl {

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

}  // namespace aiok::etl
