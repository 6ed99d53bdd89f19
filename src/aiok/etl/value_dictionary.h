// A dictionary from categorical values (int64) to dense codes 0, 1, 2, ... in order of first
// insertion. Values that fit 32 bits (every Criteo category) live in a table of 8-byte slots;
// the first value that does not moves the dictionary to 16-byte slots. Shared by the
// operators that encode categories.
//
// The batch operations (InsertAll, FindAll) choose the slot width once per batch and not per
// value: GCC 12 drops a __builtin_prefetch whose address depends on a branch, and without
// the prefetch every probe of a large table waits for memory.
#pragma once

#include <cstdint>
#include <vector>

#include "aiok/core/flat_hash_map.h"

namespace aiok::etl {

class ValueDictionary {
 public:
  /// Room for `expected` values without growing.
  explicit ValueDictionary(size_t expected = 0);

  /// The code of `value`, inserting it with the next code if absent.
  int32_t Insert(int64_t value) {
    if (!wide_) {
      if (!FitsNarrow(value)) {
        Widen();
      } else {
        const auto key = static_cast<uint32_t>(value);
        const uint32_t code = narrow_.Get(key);  // code + 1; 0 when absent
        if (code != 0)
          return static_cast<int32_t>(code - 1);
        const int32_t added = Append(value);
        narrow_.Set(key, static_cast<uint32_t>(added) + 1);
        return added;
      }
    }
    const int64_t code = wide_table_.Get(value);
    if (code != 0)
      return static_cast<int32_t>(code - 1);
    const int32_t added = Append(value);
    wide_table_.Set(value, int64_t{added} + 1);
    return added;
  }

  /// The code of `value`, or -1.
  int32_t Find(int64_t value) const {
    if (wide_)
      return static_cast<int32_t>(wide_table_.Get(value)) - 1;
    if (!FitsNarrow(value))
      return -1;
    return static_cast<int32_t>(narrow_.Get(static_cast<uint32_t>(value))) - 1;
  }

  /// codes[i] = Insert(values[i]), except that values equal to `skip` get -1 and are not
  /// inserted. Prefetches the slots of upcoming values, so it is far faster than a loop of
  /// Insert once the table outgrows the cache.
  void InsertAll(const int64_t* values, size_t n, int64_t skip, int32_t* codes);

  /// codes[i] = Find(values[i]), prefetching like InsertAll.
  void FindAll(const int64_t* values, size_t n, int32_t* codes) const;

  /// Values by code.
  const std::vector<int64_t>& values() const { return values_; }
  size_t size() const { return values_.size(); }

 private:
  static bool FitsNarrow(int64_t value) { return value >= 0 && value <= int64_t{UINT32_MAX}; }
  void Widen();
  int32_t Append(int64_t value);  // the next code; throws past INT32_MAX values

  bool wide_ = false;
  FlatHashMap<uint32_t, uint32_t> narrow_;    // value -> code + 1
  FlatHashMap<int64_t, int64_t> wide_table_;  // value -> code + 1
  std::vector<int64_t> values_;
};

}  // namespace aiok::etl
