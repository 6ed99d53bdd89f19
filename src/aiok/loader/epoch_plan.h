// Which rows make up each batch of an epoch, for one rank — pure arithmetic, no I/O.
//
// Rows of a split are numbered 0..N-1 across its shards. With shuffling, an epoch visits the
// shards in a seeded random order and, within consecutive windows of `shuffle_window` rows of
// that stream, in a seeded random permutation (a keyed Feistel network, so no index array is
// stored). The stream is cut into global batches of `batch_size` rows. With several ranks,
// each global batch is cut into `world_size` consecutive shares (rank r gets rows
// [r * batch_size / world_size, (r + 1) * batch_size / world_size) of it), so the ranks
// together train on exactly the rows one process would, batch for batch, whatever their
// number. Every rank has the same number of batches; in the epoch's final, partial global
// batch a rank's share may be short or empty.
#pragma once

#include <cstdint>
#include <vector>

#include "aiok/data/dataset.h"

namespace aiok::loader {

struct EpochPlanOptions {
  int64_t batch_size = 2048;
  bool shuffle = true;
  int64_t shuffle_window = int64_t{1} << 20;  ///< rows permuted together
  bool drop_last = false;                     ///< drop the epoch's final partial batch
  int rank = 0;
  int world_size = 1;
  uint64_t seed = 0;
};

using data::RowRef;

class EpochPlan {
 public:
  /// `shard_rows` gives the rows of each shard in dataset order.
  EpochPlan(std::vector<int64_t> shard_rows, const EpochPlanOptions& options, int64_t epoch);

  /// Batches this epoch: global batches, each rank getting its share of every one.
  int64_t batches() const { return global_batches_; }
  /// Rows in this rank's share of batch `i` (0 to batch_size / world_size; fewer, or none, in
  /// the final global batch).
  int64_t BatchRows(int64_t i) const;
  /// Rows in global batch `i`, all ranks' shares together (batch_size but for the last).
  int64_t GlobalBatchRows(int64_t i) const;
  /// The rows of this rank's batch `i`, in order.
  void BatchRowRefs(int64_t i, std::vector<RowRef>* out) const;
  /// Whether this rank's batch `i` is rows [first, first + BatchRows(i)) of one shard, in
  /// order (no shuffling, no shard boundary): then a loader can hand out views, not copies.
  bool Contiguous(int64_t i, RowRef* first) const;

  int64_t total_rows() const { return total_rows_; }

 private:
  int64_t ShareBegin(int64_t i) const;  // stream position of this rank's share of batch i
  int64_t StreamPosition(int64_t position) const;  // shuffled position -> stream position
  RowRef Locate(int64_t stream_position) const;

  EpochPlanOptions options_;
  std::vector<int64_t> shard_rows_;
  std::vector<int32_t> shard_order_;     // stream order of shards
  std::vector<int64_t> stream_offsets_;  // first stream position of each stream shard
  int64_t total_rows_ = 0;
  int64_t global_batches_ = 0;
  uint64_t key_ = 0;
};

}  // namespace aiok::loader
