#include "aiok/tune/pareto.h"

#include <gtest/gtest.h>

#include <cmath>

namespace aiok::tune {
namespace {

TEST(ParetoTest, RanksFrontsAndPutsInfeasiblePointsLast) {
  const std::vector<ScoredPoint> points = {
      {{1, 4}, 0}, {{2, 2}, 0}, {{4, 1}, 0}, {{3, 3}, 0}, {{0, 0}, 0.5}, {{5, 5}, 0}};
  const std::vector<int> ranks = NondominatedRanks(points);
  EXPECT_EQ(ranks, (std::vector<int>{0, 0, 0, 1, 3, 2}));
  const std::vector<size_t> order = RankOrder(points);
  EXPECT_EQ(order.back(), 4u);
  EXPECT_EQ(order[3], 3u);
}

TEST(ParetoTest, HypervolumeMatchesHandComputedAreas) {
  // Staircase of (1,3), (2,2), (3,1) under reference (4,4): 3 + 2 + 1 = 6.
  EXPECT_DOUBLE_EQ(Hypervolume({{1, 3}, {2, 2}, {3, 1}, {3.5, 3.5}}, {4, 4}), 6.0);
  // 3-D: two boxes [0,2]^3 and [1,3]x[1,3]x[0,1] under (3,3,3)... computed by inclusion:
  // point (1,1,1) -> box 2x2x2 = 8; point (2,2,0) -> 1x1x3 = 3; overlap [2,3]^2 x [1,3] = 2.
  EXPECT_DOUBLE_EQ(Hypervolume({{1, 1, 1}, {2, 2, 0}}, {3, 3, 3}), 9.0);
  EXPECT_DOUBLE_EQ(Hypervolume({{5, 5}}, {4, 4}), 0.0);
}

TEST(ParetoTest, CrowdingIsInfiniteAtTheEnds) {
  const std::vector<ScoredPoint> points = {{{1, 4}, 0}, {{2, 2}, 0}, {{4, 1}, 0}};
  const std::vector<double> d = CrowdingDistances(points, {0, 1, 2});
  EXPECT_TRUE(std::isinf(d[0]));
  EXPECT_TRUE(std::isinf(d[2]));
  EXPECT_DOUBLE_EQ(d[1], 1.0 + 1.0);  // (4-1)/3 + (4-1)/3
}

}  // namespace
}  // namespace aiok::tune
