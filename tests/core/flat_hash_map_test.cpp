#include "aiok/core/flat_hash_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace aiok {
namespace {

template <typename Key, typename Value>
void CompareWithStdMap(Key (*draw)(std::mt19937_64&)) {
  FlatHashMap<Key, Value> table;
  std::map<Key, Value> reference;
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200000; ++i) {
    const Key key = draw(rng);
    table.Increment(key);
    ++reference[key];
  }
  EXPECT_EQ(table.size(), reference.size());
  for (const auto& [key, count] : reference)
    ASSERT_EQ(table.Get(key), count);
  size_t visited = 0;
  table.ForEach([&](Key key, Value value) {
    ++visited;
    EXPECT_EQ(reference.at(key), value);
  });
  EXPECT_EQ(visited, reference.size());
}

TEST(FlatHashMap, CountsLikeStdMapNarrow) {
  // Zipf-ish keys over the whole 32-bit range, including 0 and the maximum.
  CompareWithStdMap<uint32_t, uint32_t>([](std::mt19937_64& rng) {
    const uint64_t r = rng();
    return (r & 7) == 0 ? (r & 8 ? 0u : 0xFFFFFFFFu) : static_cast<uint32_t>((r >> 8) % 50000);
  });
}

TEST(FlatHashMap, CountsLikeStdMapWide) {
  CompareWithStdMap<int64_t, int64_t>([](std::mt19937_64& rng) {
    return static_cast<int64_t>(rng() % 30000) * (int64_t{1} << 35) - (int64_t{1} << 50);
  });
}

TEST(FlatHashMap, SetAddAndAbsentKeys) {
  FlatHashMap<uint32_t, uint32_t> table(4);
  table.Set(0, 9);
  table.Add(7, 3);
  table.Add(7, 2);
  EXPECT_EQ(table.Get(0), 9u);
  EXPECT_EQ(table.Get(7), 5u);
  EXPECT_EQ(table.Get(8), 0u);
  EXPECT_EQ(table.size(), 2u);
  table.Clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Get(7), 0u);
}

}  // namespace
}  // namespace aiok
