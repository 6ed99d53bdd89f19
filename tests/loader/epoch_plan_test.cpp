#include "aiok/loader/epoch_plan.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "aiok/core/error.h"

namespace aiok::loader {
namespace {

// Global row number of a RowRef given shard sizes.
int64_t Global(const std::vector<int64_t>& shard_rows, RowRef ref) {
  int64_t offset = 0;
  for (int32_t s = 0; s < ref.shard; ++s)
    offset += shard_rows[s];
  return offset + ref.row;
}

std::vector<int64_t> EpochRows(const std::vector<int64_t>& shard_rows, EpochPlanOptions options,
                               int64_t epoch) {
  EpochPlan plan(shard_rows, options, epoch);
  std::vector<int64_t> rows;
  std::vector<RowRef> refs;
  for (int64_t i = 0; i < plan.batches(); ++i) {
    plan.BatchRowRefs(i, &refs);
    EXPECT_EQ(static_cast<int64_t>(refs.size()), plan.BatchRows(i));
    for (const RowRef& ref : refs)
      rows.push_back(Global(shard_rows, ref));
  }
  return rows;
}

const std::vector<int64_t> kShards = {1000, 1000, 737, 5, 1000};  // 3742 rows

TEST(EpochPlan, EveryRowOnceInOrderWithoutShuffle) {
  EpochPlanOptions options;
  options.shuffle = false;
  options.batch_size = 100;
  const auto rows = EpochRows(kShards, options, 0);
  ASSERT_EQ(rows.size(), 3742u);
  for (size_t i = 0; i < rows.size(); ++i)
    ASSERT_EQ(rows[i], static_cast<int64_t>(i));
  EpochPlan plan(kShards, options, 0);
  EXPECT_EQ(plan.batches(), 38);
  EXPECT_EQ(plan.BatchRows(37), 42);  // the final partial batch is kept
  RowRef first{};
  EXPECT_TRUE(plan.Contiguous(0, &first));
  EXPECT_FALSE(plan.Contiguous(27, &first));  // rows 2700..2799 cross from shard 2 to 3
}

TEST(EpochPlan, ShuffledEpochIsAPermutationThatChangesWithTheEpoch) {
  EpochPlanOptions options;
  options.batch_size = 64;
  options.shuffle_window = 500;
  options.seed = 9;
  const auto epoch0 = EpochRows(kShards, options, 0);
  const auto epoch1 = EpochRows(kShards, options, 1);
  EXPECT_EQ(std::set<int64_t>(epoch0.begin(), epoch0.end()).size(), 3742u);
  EXPECT_EQ(epoch0.size(), 3742u);
  EXPECT_EQ(std::set<int64_t>(epoch1.begin(), epoch1.end()).size(), 3742u);
  EXPECT_NE(epoch0, epoch1);
  EXPECT_EQ(epoch0, EpochRows(kShards, options, 0)) << "same seed and epoch, same order";
  options.seed = 10;
  EXPECT_NE(epoch0, EpochRows(kShards, options, 0));
  // Shuffled for real: few rows keep their position.
  int64_t in_place = 0;
  for (size_t i = 0; i < epoch0.size(); ++i)
    in_place += epoch0[i] == static_cast<int64_t>(i);
  EXPECT_LT(in_place, 50);
}

TEST(EpochPlan, RanksGetEqualBatchCountsAndTogetherCoverEveryRow) {
  for (bool shuffle : {false, true}) {
    for (int world : {2, 3, 7}) {
      EpochPlanOptions options;
      options.shuffle = shuffle;
      options.batch_size = 128;
      options.world_size = world;
      std::map<int64_t, int> seen;
      int64_t batches = -1;
      for (int rank = 0; rank < world; ++rank) {
        options.rank = rank;
        EpochPlan plan(kShards, options, 3);
        if (batches < 0)
          batches = plan.batches();
        EXPECT_EQ(plan.batches(), batches) << "rank " << rank << " of " << world;
        for (int64_t row : EpochRows(kShards, options, 3))
          seen[row]++;
      }
      EXPECT_EQ(seen.size(), 3742u) << world;
      // Padding repeats at most world - 1 batches.
      int64_t repeats = 0;
      for (const auto& [row, count] : seen)
        repeats += count - 1;
      EXPECT_LE(repeats, (world - 1) * 128) << world;
    }
  }
}

TEST(EpochPlan, DropLastAndBadOptions) {
  EpochPlanOptions options;
  options.shuffle = false;
  options.batch_size = 1000;
  options.drop_last = true;
  EXPECT_EQ(EpochPlan(kShards, options, 0).batches(), 3);
  EXPECT_EQ(EpochPlan({}, options, 0).batches(), 0);
  options.rank = 2;
  options.world_size = 2;
  EXPECT_THROW(EpochPlan(kShards, options, 0), Error);
}

}  // namespace
}  // namespace aiok::loader
