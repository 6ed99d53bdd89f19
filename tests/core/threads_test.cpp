#include "aiok/core/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "aiok/core/error.h"

namespace aiok {
namespace {

TEST(ParallelFor, VisitsEveryIndexOnce) {
  for (int threads : {1, 2, 5}) {
    std::vector<std::atomic<int>> seen(1000);
    ParallelFor(1000, threads, [&](int64_t i) { seen[i]++; });
    for (const auto& count : seen)
      EXPECT_EQ(count.load(), 1);
  }
}

TEST(ParallelFor, RethrowsTheWorkersException) {
  EXPECT_THROW(ParallelFor(100, 3,
                           [](int64_t i) {
                             if (i == 37)
                               throw std::runtime_error("boom");
                           }),
               std::runtime_error);
}

TEST(OrderedTurns, CommitsInIndexOrderWhateverTheFinishingOrder) {
  OrderedTurns turns;
  std::vector<int64_t> order;
  ParallelFor(200, 4, [&](int64_t i) {
    // Later indices finish their work sooner, so they must wait for their turn.
    volatile double sink = 0;
    for (int k = 0; k < (200 - i) * 100; ++k)
      sink = sink + k;
    turns.Commit(i, [&] { order.push_back(i); });
  });
  ASSERT_EQ(order.size(), 200u);
  for (int64_t i = 0; i < 200; ++i)
    EXPECT_EQ(order[i], i);
}

TEST(OrderedTurns, AbortReleasesWaiters) {
  OrderedTurns turns;
  std::atomic<int> committed{0};
  EXPECT_THROW(ParallelFor(50, 4,
                           [&](int64_t i) {
                             try {
                               if (i == 0)
                                 throw std::runtime_error("first chunk failed");
                               if (turns.Commit(i, [&] { committed++; }))
                                 FAIL();
                             } catch (...) {
                               turns.Abort();
                               throw;
                             }
                           }),
               std::runtime_error);
  EXPECT_EQ(committed.load(), 0);
}

}  // namespace
}  // namespace aiok
