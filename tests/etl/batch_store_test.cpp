#include "aiok/etl/batch_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;

// A batch whose every value depends on (index, position), so that mix-ups show.
EncodedBatch MakeBatch(int64_t index, size_t rows, bool raw_dense) {
  EncodedBatch batch;
  for (size_t r = 0; r < rows; ++r) {
    batch.lines.push_back(index * 1000 + static_cast<int64_t>(r));
    batch.labels.push_back(static_cast<uint8_t>((index + r) % 2));
  }
  for (size_t i = 0; i < rows * 3; ++i) {
    if (raw_dense) {
      batch.raw_dense.push_back(static_cast<double>(index) + 0.25 * static_cast<double>(i));
    } else {
      batch.dense.push_back(static_cast<float>(index) + 0.5f * static_cast<float>(i));
    }
  }
  for (size_t i = 0; i < rows * 4; ++i)
    batch.categorical.push_back(static_cast<int32_t>(index * 100 + static_cast<int64_t>(i)) - 1);
  return batch;
}

void ExpectSame(const EncodedBatch& a, const EncodedBatch& b) {
  EXPECT_EQ(a.lines, b.lines);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.dense, b.dense);
  EXPECT_EQ(a.raw_dense, b.raw_dense);
  EXPECT_EQ(a.categorical, b.categorical);
}

class BatchStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_batch_store_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Spill() const { return (dir_ / "spill").string(); }
  fs::path dir_;
};

TEST_F(BatchStoreTest, KeepsWhatFitsTheBudgetAndSpillsTheRest) {
  const size_t bytes = MakeBatch(0, 50, false).bytes();
  {
    BatchStore store(Spill(), static_cast<int64_t>(2 * bytes));  // room for two batches
    for (int64_t i = 0; i < 5; ++i)
      store.Put(i, MakeBatch(i, 50, i % 2 == 1));
    EXPECT_EQ(store.batches(), 5);
    EXPECT_GT(store.spilled_bytes(), 0);
    EXPECT_LE(store.spilled_bytes(), static_cast<int64_t>(4 * bytes));
    EXPECT_TRUE(fs::exists(Spill()));
    // Read leaves batches in place; Take hands them over. Both give back what was put.
    for (int64_t i = 0; i < 5; ++i)
      ExpectSame(*store.Read(i), MakeBatch(i, 50, i % 2 == 1));
    for (int64_t i = 4; i >= 0; --i)
      ExpectSame(store.Take(i), MakeBatch(i, 50, i % 2 == 1));
  }
  EXPECT_FALSE(fs::exists(Spill())) << "the spill file outlived the store";
}

TEST_F(BatchStoreTest, NothingSpillsUnderTheBudgetAndEmptyBatchesAreKept) {
  BatchStore store(Spill(), int64_t{1} << 30);
  store.Put(1, MakeBatch(1, 10, false));
  store.Put(0, EncodedBatch{});  // every line of a batch rejected
  EXPECT_EQ(store.batches(), 2);
  EXPECT_EQ(store.spilled_bytes(), 0);
  EXPECT_FALSE(fs::exists(Spill()));
  EXPECT_EQ(store.Read(0)->rows(), 0);
  ExpectSame(store.Take(1), MakeBatch(1, 10, false));
}

TEST_F(BatchStoreTest, ThreadsPuttingAtOnceLoseNothing) {
  const size_t bytes = MakeBatch(0, 200, false).bytes();
  BatchStore store(Spill(), static_cast<int64_t>(10 * bytes));  // some in memory, most spilled
  constexpr int kThreads = 4;
  constexpr int64_t kBatches = 64;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t i = t; i < kBatches; i += kThreads)
        store.Put(i, MakeBatch(i, 200, false));
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(store.batches(), kBatches);
  EXPECT_GT(store.spilled_bytes(), 0);
  for (int64_t i = 0; i < kBatches; ++i)
    ExpectSame(store.Take(i), MakeBatch(i, 200, false));
}

}  // namespace
}  // namespace aiok::etl
