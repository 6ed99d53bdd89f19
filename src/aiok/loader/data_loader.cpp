#include "aiok/loader/data_loader.h"

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

int64_t DataLoader::GlobalBatchRows(int64_t index) const { return plan_->GlobalBatchRows(index); }

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
  plan_ = std::make_unique<EpochPlan>(reader_.shard_rows(), plan_options_, epoch);
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
    std::optional<data::FeatureBatch> batch;
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

std::optional<data::FeatureBatch> DataLoader::Next() {
  const auto prefetch = static_cast<int64_t>(ring_.size());
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_to_take_ >= plan_->batches())
    return std::nullopt;
  auto& slot = ring_[static_cast<size_t>(next_to_take_ % prefetch)];
  changed_.wait(lock, [&] { return slot.has_value() || error_ != nullptr; });
  if (error_)
    std::rethrow_exception(error_);
  std::optional<data::FeatureBatch> batch = std::move(slot);
  slot.reset();
  ++next_to_take_;
  lock.unlock();
  changed_.notify_all();
  return batch;
}

data::FeatureBatch DataLoader::Build(int64_t index) const {
  RowRef first{};
  data::FeatureBatch batch;
  if (plan_->Contiguous(index, &first)) {
    batch = reader_.View(first.shard, first.row, plan_->BatchRows(index));
  } else {
    std::vector<RowRef> refs;
    plan_->BatchRowRefs(index, &refs);
    batch = reader_.Gather(refs);
  }
  batch.index = index;
  return batch;
}

}  // namespace aiok::loader
