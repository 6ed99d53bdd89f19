#include "aiok/loader/epoch_plan.h"

#include <algorithm>
#include <numeric>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::loader {
namespace {

// A keyed pseudo-random permutation of [0, n): a 4-round Feistel network on the smallest
// even power-of-two domain that holds n, cycle-walking until the result falls inside.
int64_t PermuteIndex(int64_t index, int64_t n, uint64_t key) {
  if (n <= 1)
    return index;
  int bits = 2;
  while ((int64_t{1} << bits) < n)
    bits += 2;
  const int half = bits / 2;
  const uint64_t mask = (uint64_t{1} << half) - 1;
  auto x = static_cast<uint64_t>(index);
  do {
    uint64_t left = x >> half;
    uint64_t right = x & mask;
    for (int round = 0; round < 4; ++round) {
      const uint64_t next = left ^ (HashPair(key + static_cast<uint64_t>(round), right) & mask);
      left = right;
      right = next;
    }
    x = (left << half) | right;
  } while (x >= static_cast<uint64_t>(n));
  return static_cast<int64_t>(x);
}

}  // namespace

EpochPlan::EpochPlan(std::vector<int64_t> shard_rows, const EpochPlanOptions& options,
                     int64_t epoch)
    : options_(options), shard_rows_(std::move(shard_rows)) {
  AIOK_CHECK(options.batch_size >= 1, ErrorKind::kConfig, "batch size must be >= 1, got {}",
             options.batch_size);
  AIOK_CHECK(options.world_size >= 1 && options.rank >= 0 && options.rank < options.world_size,
             ErrorKind::kConfig, "rank {} is not in [0, world size {})", options.rank,
             options.world_size);
  AIOK_CHECK(options.shuffle_window >= 1, ErrorKind::kConfig,
             "shuffle window must be >= 1 row, got {}", options.shuffle_window);
  key_ = HashTriple(options.seed, 0x5EEDu, static_cast<uint64_t>(epoch));
  shard_order_.resize(shard_rows_.size());
  std::iota(shard_order_.begin(), shard_order_.end(), 0);
  if (options.shuffle) {
    // Fisher-Yates with counter-based draws: the same order for the same seed and epoch.
    for (size_t i = shard_order_.size(); i > 1; --i) {
      const auto j = static_cast<size_t>(HashPair(key_, i) % i);
      std::swap(shard_order_[i - 1], shard_order_[j]);
    }
  }
  for (int32_t shard : shard_order_) {
    stream_offsets_.push_back(total_rows_);
    total_rows_ += shard_rows_[static_cast<size_t>(shard)];
  }
  const int64_t b = options.batch_size;
  global_batches_ = options.drop_last ? total_rows_ / b : (total_rows_ + b - 1) / b;
}

int64_t EpochPlan::ShareBegin(int64_t i) const {
  AIOK_ASSERT(i >= 0 && i < global_batches_);
  return i * options_.batch_size + options_.rank * options_.batch_size / options_.world_size;
}

int64_t EpochPlan::BatchRows(int64_t i) const {
  const int64_t begin = ShareBegin(i);
  const int64_t end =
      i * options_.batch_size + (options_.rank + 1) * options_.batch_size / options_.world_size;
  return std::max<int64_t>(0, std::min(end, total_rows_) - begin);
}

int64_t EpochPlan::GlobalBatchRows(int64_t i) const {
  AIOK_ASSERT(i >= 0 && i < global_batches_);
  return std::min(options_.batch_size, total_rows_ - i * options_.batch_size);
}

int64_t EpochPlan::StreamPosition(int64_t position) const {
  if (!options_.shuffle)
    return position;
  const int64_t window = position / options_.shuffle_window;
  const int64_t begin = window * options_.shuffle_window;
  const int64_t size = std::min(options_.shuffle_window, total_rows_ - begin);
  return begin +
         PermuteIndex(position - begin, size, HashPair(key_, static_cast<uint64_t>(window)));
}

RowRef EpochPlan::Locate(int64_t stream_position) const {
  const auto it =
      std::upper_bound(stream_offsets_.begin(), stream_offsets_.end(), stream_position) - 1;
  const auto k = static_cast<size_t>(it - stream_offsets_.begin());
  return RowRef{shard_order_[k], stream_position - *it};
}

void EpochPlan::BatchRowRefs(int64_t i, std::vector<RowRef>* out) const {
  const int64_t first = ShareBegin(i);
  const int64_t rows = BatchRows(i);
  out->resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    (*out)[r] = Locate(StreamPosition(first + r));
}

bool EpochPlan::Contiguous(int64_t i, RowRef* first) const {
  if (options_.shuffle || BatchRows(i) == 0)
    return false;
  const int64_t start = ShareBegin(i);
  const RowRef head = Locate(start);
  if (head.row + BatchRows(i) > shard_rows_[static_cast<size_t>(head.shard)])
    return false;
  *first = head;
  return true;
}

}  // namespace aiok::loader
