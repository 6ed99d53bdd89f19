#include "aiok/loader/data_loader.h"

#include <cstring>

#include "aiok/core/error.h"

namespace aiok::loader {

DataLoader::DataLoader(const std::string& dir, const std::string& split,
                       const LoaderOptions& options, int rank, int world_size, uint64_t seed)
    : schema_(data::ReadDatasetSchema(dir)), reader_(dir, schema_, split), options_(options) {
  ValidateOptions(options_, "loader");
  plan_options_.batch_size = options.batch_size;
  plan_options_.shuffle = options.shuffle;
  plan_options_.shuffle_window = options.shuffle_window;
  plan_options_.drop_last = options.drop_last;
  plan_options_.rank = rank;
  plan_options_.world_size = world_size;
  plan_options_.seed = seed;
  StartEpoch(0);
}

DataLoader::~DataLoader() { StopWorkers(); }

int64_t DataLoader::batches() const { return plan_->batches(); }

void DataLoader::StopWorkers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& worker : workers_)
    worker.join();
  workers_.clear();
}

void DataLoader::StartEpoch(int64_t epoch, int64_t first_batch) {
  StopWorkers();
  std::vector<int64_t> shard_rows;
  for (const auto& shard : reader_.shards())
    shard_rows.push_back(shard.rows);
  plan_ = std::make_unique<EpochPlan>(shard_rows, plan_options_, epoch);
  ring_.assign(static_cast<size_t>(options_.prefetch), std::nullopt);
  AIOK_CHECK(first_batch >= 0 && first_batch <= plan_->batches(), ErrorKind::kInvalidInput,
             "loader: cannot start epoch {} at batch {} of {}", epoch, first_batch,
             plan_->batches());
  next_to_build_ = first_batch;
  next_to_take_ = first_batch;
  stopping_ = false;
  error_ = nullptr;
  for (int64_t w = 0; w < options_.workers; ++w)
    workers_.emplace_back([this] { Produce(); });
}

void DataLoader::Produce() {
  const auto prefetch = static_cast<int64_t>(ring_.size());
  for (;;) {
    int64_t index;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Claim the next batch once its ring slot will be free.
      changed_.wait(lock, [&] { return stopping_ || next_to_build_ < next_to_take_ + prefetch; });
      if (stopping_ || next_to_build_ >= plan_->batches())
        return;
      index = next_to_build_++;
    }
    std::optional<Batch> batch;
    try {
      batch = Build(index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_)
        error_ = std::current_exception();
      stopping_ = true;
      changed_.notify_all();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ring_[static_cast<size_t>(index % prefetch)] = std::move(batch);
    }
    changed_.notify_all();
  }
}

std::optional<Batch> DataLoader::Next() {
  const auto prefetch = static_cast<int64_t>(ring_.size());
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_to_take_ >= plan_->batches())
    return std::nullopt;
  auto& slot = ring_[static_cast<size_t>(next_to_take_ % prefetch)];
  changed_.wait(lock, [&] { return slot.has_value() || error_ != nullptr; });
  if (error_)
    std::rethrow_exception(error_);
  std::optional<Batch> batch = std::move(slot);
  slot.reset();
  ++next_to_take_;
  lock.unlock();
  changed_.notify_all();
  return batch;
}

Batch DataLoader::Build(int64_t index) const {
  const auto n_dense = static_cast<int64_t>(schema_.dense_columns.size());
  const auto n_cat = static_cast<int64_t>(schema_.categorical_columns.size());
  Batch batch;
  batch.index = index;
  batch.rows = plan_->BatchRows(index);
  RowRef first{};
  if (plan_->Contiguous(index, &first)) {
    const auto& shard = reader_.shards()[static_cast<size_t>(first.shard)];
    batch.labels = shard.labels + first.row;
    batch.dense = shard.dense + first.row * n_dense;
    batch.categorical = shard.categorical + first.row * n_cat;
    return batch;
  }
  std::vector<RowRef> refs;
  plan_->BatchRowRefs(index, &refs);
  batch.copied = true;
  batch.label_storage.resize(refs.size());
  batch.dense_storage.resize(refs.size() * static_cast<size_t>(n_dense));
  batch.categorical_storage.resize(refs.size() * static_cast<size_t>(n_cat));
  for (size_t r = 0; r < refs.size(); ++r) {
    const auto& shard = reader_.shards()[static_cast<size_t>(refs[r].shard)];
    const int64_t row = refs[r].row;
    batch.label_storage[r] = shard.labels[row];
    std::memcpy(&batch.dense_storage[r * n_dense], shard.dense + row * n_dense,
                sizeof(float) * static_cast<size_t>(n_dense));
    std::memcpy(&batch.categorical_storage[r * n_cat], shard.categorical + row * n_cat,
                sizeof(int32_t) * static_cast<size_t>(n_cat));
  }
  batch.labels = batch.label_storage.data();
  batch.dense = batch.dense_storage.data();
  batch.categorical = batch.categorical_storage.data();
  return batch;
}

}  // namespace aiok::loader
