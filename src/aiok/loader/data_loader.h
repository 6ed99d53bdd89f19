// The data connector: FeatureBatches of a dataset directory's split for training and
// evaluation.
// Shards are memory-mapped; a batch of consecutive rows inside one shard is handed out as a
// view into the mapping (no copy), other batches are gathered. Background workers build the
// next batches while the trainer works, in a fixed order (see EpochPlan), so runs repeat
// exactly for a seed whatever the number of workers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aiok/core/options.h"
#include "aiok/data/dataset.h"
#include "aiok/loader/epoch_plan.h"

namespace aiok::loader {

struct LoaderOptions {
  int64_t batch_size = 2048;
  bool shuffle = true;
  int64_t shuffle_window = int64_t{1} << 20;
  bool drop_last = false;
  int64_t prefetch = 4;
  int64_t workers = 1;

  template <typename V>
  void Visit(V& v) {
    v.Int("batch-size", &batch_size, 1, int64_t{1} << 24, "rows per batch");
    v.Flag("shuffle", &shuffle, "visit rows in a seeded random order each epoch");
    v.Int("shuffle-window", &shuffle_window, 1, int64_t{1} << 40,
          "rows permuted together (after shuffling the shard order)");
    v.Flag("drop-last", &drop_last, "drop the epoch's final partial batch");
    v.Int("prefetch", &prefetch, 1, 1024, "batches built ahead of the trainer");
    v.Int("loader-workers", &workers, 1, 64, "threads building batches");
  }
};

class DataLoader {
 public:
  /// Opens `split` of the dataset in `dir` for `rank` of `world_size` ranks: its batches are
  /// the rank's shares of global batches of options.batch_size rows (see EpochPlan).
  DataLoader(const std::string& dir, const std::string& split, const LoaderOptions& options,
             int rank = 0, int world_size = 1, uint64_t seed = 0);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  const data::DatasetSchema& schema() const { return schema_; }
  int64_t rows() const { return reader_.rows(); }

  /// Starts epoch `epoch` (its order depends on the seed and the epoch number) at batch
  /// `first_batch` (to resume mid-epoch), stopping the previous one if it is not finished.
  void StartEpoch(int64_t epoch, int64_t first_batch = 0);
  /// Batches per epoch (global batches: the same on every rank, for any number of ranks).
  int64_t batches() const;
  /// Rows of global batch `index` of the current epoch, all ranks' shares together.
  int64_t GlobalBatchRows(int64_t index) const;
  /// The next batch of the epoch, in order; nullopt when the epoch is done.
  std::optional<data::FeatureBatch> Next();

 private:
  data::FeatureBatch Build(int64_t index) const;
  void Produce();
  void StopWorkers();

  data::DatasetSchema schema_;
  data::SplitReader reader_;
  LoaderOptions options_;
  EpochPlanOptions plan_options_;
  std::unique_ptr<EpochPlan> plan_;

  // Batches built ahead, in a ring indexed by batch number mod prefetch.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::optional<data::FeatureBatch>> ring_;
  int64_t next_to_build_ = 0;
  int64_t next_to_take_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> workers_;
};

}  // namespace aiok::loader
