#include "aiok/loader/data_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"

namespace aiok::loader {
namespace {
namespace fs = std::filesystem;

// A dataset whose train split has `rows` rows in shards of `shard_rows`, where row r has
// label r % 2, dense values (r, 0.5), categorical ids (r, 7) and a list field "tags" of
// r % 4 ids r, r + 1, ... (mod 100).
std::string MakeDataset(const fs::path& dir, int64_t rows, int64_t shard_rows) {
  fs::create_directories(dir);
  data::DatasetSchema schema;
  schema.features.dense = {"x", "half"};
  schema.features.categorical = {{"id", rows}, {"seven", 8}};
  schema.features.jagged = {{"tags", data::JaggedFeature::Kind::kMultiCategorical, 100, 3}};
  for (const auto& name : data::SplitNames())
    schema.splits.push_back(data::SplitInfo{name, {}, 0, {}, ""});
  {
    data::SplitWriter train(dir.string(), &schema.splits[0], schema.features, shard_rows);
    // Appended in uneven pieces, so that list offsets are rebased across appends and shards.
    for (int64_t begin = 0; begin < rows;) {
      const int64_t n = std::min<int64_t>(rows - begin, 1 + begin % 7);
      data::FeatureBatch batch = data::AllocateFeatureBatch(schema.features, n, true);
      data::FeatureBatchStorage& s = *batch.storage;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t r = begin + i;
        s.labels[i] = static_cast<float>(r % 2);
        s.dense[i * 2] = static_cast<float>(r);
        s.dense[i * 2 + 1] = 0.5f;
        s.categorical[i * 2] = static_cast<int32_t>(r);
        s.categorical[i * 2 + 1] = 7;
        for (int64_t k = 0; k < r % 4; ++k)
          s.values[0].push_back(static_cast<int32_t>((r + k) % 100));
        s.offsets[0][i + 1] = static_cast<int64_t>(s.values[0].size());
      }
      batch.ViewStorage();
      const int64_t half = n / 2;  // a second piece starts mid-batch, at a nonzero offset
      train.Append(batch, 0, half);
      train.Append(batch, half, n - half);
      begin += n;
    }
    train.Close();
  }
  schema.source = {{"path", "synthetic"}};
  WriteFileAtomic((dir / "schema.json").string(), schema.ToJson().dump());
  return dir.string();
}

class DataLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("aiok_loader_" + std::to_string(getpid()));
    dir_ = MakeDataset(root_ / "ds", 10000, 3000);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Row ids of an epoch, checking each batch's rows are internally consistent.
  std::vector<int64_t> Epoch(DataLoader& loader) {
    std::vector<int64_t> ids;
    int64_t expected_index = 0;
    while (auto batch = loader.Next()) {
      EXPECT_EQ(batch->index, expected_index++);
      for (int64_t r = 0; r < batch->rows; ++r) {
        const auto id = static_cast<int64_t>(batch->dense[r * 2]);
        EXPECT_EQ(batch->categorical[r * 2], id);
        EXPECT_EQ(batch->categorical[r * 2 + 1], 7);
        EXPECT_EQ(batch->labels[r], id % 2);
        EXPECT_EQ(batch->dense[r * 2 + 1], 0.5f);
        const data::JaggedIds& tags = batch->jagged.at(0);
        EXPECT_EQ(tags.length(r), id % 4);
        for (int64_t k = 0; k < tags.length(r); ++k)
          EXPECT_EQ(tags.values[tags.offsets[r] + k], (id + k) % 100);
        ids.push_back(id);
      }
    }
    EXPECT_EQ(expected_index, loader.batches());
    return ids;
  }

  fs::path root_;
  std::string dir_;
};

TEST_F(DataLoaderTest, EveryRowOncePerEpochShuffledOrNot) {
  for (bool shuffle : {false, true}) {
    LoaderOptions options;
    options.batch_size = 256;
    options.shuffle = shuffle;
    options.shuffle_window = 4096;
    options.workers = 3;
    DataLoader loader(dir_, "train", options, 0, 1, 42);
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      loader.StartEpoch(epoch);
      const auto ids = Epoch(loader);
      ASSERT_EQ(ids.size(), 10000u);
      EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 10000u);
      if (!shuffle) {
        for (size_t i = 0; i < ids.size(); ++i)
          ASSERT_EQ(ids[i], static_cast<int64_t>(i));
      }
    }
  }
}

TEST_F(DataLoaderTest, UnshuffledBatchesInsideAShardAreViewsNotCopies) {
  LoaderOptions options;
  options.batch_size = 700;
  options.shuffle = false;
  DataLoader loader(dir_, "train", options);
  int copied = 0;
  int viewed = 0;
  // A view points into the mapped shard; a gathered batch holds its dense block itself.
  while (auto batch = loader.Next())
    (batch->storage && !batch->storage->dense.empty() ? copied : viewed)++;
  // Shards hold rows [0, 3000), [3000, 6000), [6000, 9000), [9000, 10000): of the 15 batches
  // of 700 rows, those starting at 2800, 5600 and 8400 cross a shard boundary.
  EXPECT_EQ(copied, 3);
  EXPECT_EQ(viewed, 12);
}

TEST_F(DataLoaderTest, SameOrderWhateverTheWorkerCount) {
  LoaderOptions options;
  options.batch_size = 100;
  options.workers = 1;
  DataLoader one(dir_, "train", options, 0, 1, 7);
  options.workers = 4;
  options.prefetch = 2;
  DataLoader four(dir_, "train", options, 0, 1, 7);
  EXPECT_EQ(Epoch(one), Epoch(four));
}

TEST_F(DataLoaderTest, RanksSplitTheEpoch) {
  LoaderOptions options;
  options.batch_size = 300;
  std::set<int64_t> all;
  int64_t batches = -1;
  for (int rank = 0; rank < 3; ++rank) {
    DataLoader loader(dir_, "train", options, rank, 3, 5);
    if (batches < 0)
      batches = loader.batches();
    EXPECT_EQ(loader.batches(), batches);
    for (int64_t id : Epoch(loader))
      all.insert(id);
  }
  EXPECT_EQ(all.size(), 10000u);
}

TEST_F(DataLoaderTest, RestartingAnEpochMidwayStopsCleanly) {
  LoaderOptions options;
  options.batch_size = 100;
  options.workers = 2;
  DataLoader loader(dir_, "train", options);
  for (int i = 0; i < 5; ++i)
    loader.Next();
  loader.StartEpoch(1);
  EXPECT_EQ(Epoch(loader).size(), 10000u);
}

TEST_F(DataLoaderTest, BadSplitOrDirectory) {
  LoaderOptions options;
  EXPECT_THROW(DataLoader(dir_, "holdout", options), Error);
  EXPECT_THROW(DataLoader((root_ / "none").string(), "train", options), Error);
  options.batch_size = 0;
  EXPECT_THROW(DataLoader(dir_, "train", options), Error);
}

}  // namespace
}  // namespace aiok::loader

namespace aiok::loader {
namespace {

TEST_F(DataLoaderTest, StartingMidEpochGivesTheRestOfTheSameEpoch) {
  LoaderOptions options;
  options.batch_size = 128;
  DataLoader loader(dir_, "train", options, 0, 1, 3);
  loader.StartEpoch(2);
  const auto whole = Epoch(loader);
  loader.StartEpoch(2, 10);
  std::vector<int64_t> rest;
  while (auto batch = loader.Next()) {
    for (int64_t r = 0; r < batch->rows; ++r)
      rest.push_back(static_cast<int64_t>(batch->dense[r * 2]));
  }
  ASSERT_EQ(rest.size(), whole.size() - 10 * 128);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), whole.begin() + 10 * 128));
  EXPECT_THROW(loader.StartEpoch(0, loader.batches() + 1), Error);
}

}  // namespace
}  // namespace aiok::loader
