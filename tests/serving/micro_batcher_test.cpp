#include "aiok/serving/micro_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

namespace aiok::serving {
namespace {

// One dense column; the "model" returns it times two.
data::FeatureLayout OneDense() {
  data::FeatureLayout layout;
  layout.dense = {"x"};
  return layout;
}

data::FeatureBatch Rows(std::initializer_list<float> values) {
  data::FeatureBatch rows =
      data::AllocateFeatureBatch(OneDense(), static_cast<int64_t>(values.size()), false);
  std::copy(values.begin(), values.end(), rows.storage->dense.begin());
  return rows;
}

MicroBatcher::Score Double(std::atomic<int>* calls) {
  return [calls](const data::FeatureBatch& batch, float* out) {
    ++*calls;
    for (int64_t i = 0; i < batch.rows; ++i)
      out[i] = 2 * batch.dense[i];
  };
}

TEST(MicroBatcherTest, ConcurrentRequestsShareBatchesAndGetTheirOwnAnswers) {
  std::atomic<int> calls{0};
  MicroBatcher batcher(Double(&calls), OneDense(), 64, std::chrono::milliseconds(20), 1000);
  constexpr int kClients = 16;
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int r = 0; r < 5; ++r) {
        const float base = static_cast<float>(c * 100 + r * 10);
        // As the server does: announce the request, parse it (here: sleep), submit.
        const MicroBatcher::Arrival arrival(&batcher);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const auto got = batcher.Submit(Rows({base, base + 1, base + 2}));
        if (!got || got->size() != 3 || (*got)[0] != 2 * base || (*got)[2] != 2 * (base + 2))
          ++wrong;
      }
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(batcher.scored_rows(), kClients * 5 * 3);
  // 80 announced requests from 16 clients, waiting up to 20 ms for each other: far fewer
  // model calls.
  EXPECT_LT(calls.load(), kClients * 5 / 2);
  EXPECT_EQ(batcher.batches(), calls.load());
}

TEST(MicroBatcherTest, ALoneRequestDoesNotWaitForCompanyThatIsNotComing) {
  std::atomic<int> calls{0};
  MicroBatcher batcher(Double(&calls), OneDense(), 64, std::chrono::seconds(5), 1000);
  const auto start = std::chrono::steady_clock::now();
  {
    const MicroBatcher::Arrival arrival(&batcher);
    EXPECT_TRUE(batcher.Submit(Rows({1})));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  // With another request announced (being parsed), the batch waits for it.
  std::atomic<bool> answered{false};
  std::optional<MicroBatcher::Arrival> other;
  other.emplace(&batcher);
  std::thread first([&] {
    const MicroBatcher::Arrival arrival(&batcher);
    batcher.Submit(Rows({2}));
    answered = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(answered.load());
  other.reset();  // the other request gave up (a parse error): stop waiting
  first.join();
  EXPECT_TRUE(answered.load());
}

TEST(MicroBatcherTest, AFullQueueRefusesInsteadOfWaiting) {
  std::atomic<bool> release{false};
  std::atomic<bool> started{false};
  MicroBatcher batcher(
      [&](const data::FeatureBatch& batch, float* out) {
        started = true;
        while (!release.load())
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::fill(out, out + batch.rows, 0.5f);
      },
      OneDense(), 4, std::chrono::milliseconds(0), 4);
  // The first request is being scored (blocked); the second fills the queue.
  auto wait_until = [](auto condition) {
    while (!condition())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  std::thread first([&] { EXPECT_TRUE(batcher.Submit(Rows({1, 2, 3, 4}))); });
  wait_until([&] { return batcher.queued_rows() == 0 && started.load(); });
  std::thread second([&] { EXPECT_TRUE(batcher.Submit(Rows({1, 2, 3}))); });
  wait_until([&] { return batcher.queued_rows() == 3; });
  EXPECT_FALSE(batcher.Submit(Rows({1, 2})).has_value());  // 3 queued + 2 > 4
  release.store(true);
  first.join();
  second.join();
  EXPECT_EQ(batcher.scored_rows(), 7);
}

TEST(MicroBatcherTest, ScoringErrorsReachEveryRequestOfTheBatch) {
  MicroBatcher batcher(
      [](const data::FeatureBatch&, float*) { throw std::runtime_error("boom"); }, OneDense(), 8,
      std::chrono::milliseconds(1), 100);
  EXPECT_THROW(batcher.Submit(Rows({1})), std::runtime_error);
  EXPECT_TRUE(batcher.Submit(data::FeatureBatch()).has_value());  // empty: answered at once
}

// The server's path: the caller does not wait; the answer arrives on the batcher's thread.
TEST(MicroBatcherTest, SubmitAsyncAnswersFromTheBatchersThread) {
  std::atomic<int> calls{0};
  MicroBatcher batcher(Double(&calls), OneDense(), 8, std::chrono::milliseconds(0), 100);
  std::promise<std::pair<std::vector<float>, std::thread::id>> answer;
  ASSERT_TRUE(batcher.SubmitAsync(Rows({1, 2}), [&](std::vector<float> p, std::exception_ptr e) {
    EXPECT_FALSE(e);
    answer.set_value({std::move(p), std::this_thread::get_id()});
  }));
  const auto [probabilities, thread] = answer.get_future().get();
  EXPECT_EQ(probabilities, (std::vector<float>{2, 4}));
  EXPECT_NE(thread, std::this_thread::get_id());
}

}  // namespace
}  // namespace aiok::serving
