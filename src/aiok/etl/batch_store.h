// Where the ETL keeps pass 1's encoded batches until the fit is finished: in memory while
// they fit a budget, the rest in a spill file. Keeping them in memory means the dataset's
// shards are written once, in their final form, instead of being written with codes and then
// rewritten in place (which cost a page fault per page written back). The spill file keeps
// memory bounded for inputs larger than the budget (the 45M-row Kaggle file).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aiok/core/uninitialized_vector.h"

namespace aiok::etl {

/// A batch as pass 1 leaves it: column-major, so each column is one contiguous run.
struct EncodedBatch {
  std::vector<int64_t> lines;  ///< 0-based source record of each row
  /// The label as read: its number, or for a text label the hash of its text (bit-cast), to
  /// be mapped once every value has been seen (LabelMapping).
  UninitializedVector<double> labels;
  UninitializedVector<float> weights;     ///< when the schema has a weight field
  UninitializedVector<float> dense;  ///< dense features x rows (the ready chains' slots)
  UninitializedVector<int32_t> categorical;  ///< categorical features x rows: ids, or codes
  UninitializedVector<double> raw_dense;     ///< raw dense input columns x rows
  UninitializedVector<int64_t> raw_keys;     ///< raw categorical key columns x rows
  /// List fields: per field rows + 1 offsets into `list_codes` (absolute within the batch),
  /// fields back to back; the elements' ids or codes.
  UninitializedVector<int64_t> list_offsets;
  UninitializedVector<int32_t> list_codes;

  int64_t rows() const { return static_cast<int64_t>(lines.size()); }
  size_t bytes() const;
};

class BatchStore {
 public:
  /// Keeps batches in memory up to `memory_budget` bytes; further batches go to
  /// `spill_path` (created on first use, removed with the store).
  BatchStore(std::string spill_path, int64_t memory_budget);
  ~BatchStore();
  BatchStore(const BatchStore&) = delete;
  BatchStore& operator=(const BatchStore&) = delete;

  /// Stores batch `index` (0-based; each index once). Safe to call from several threads.
  void Put(int64_t index, EncodedBatch batch);

  /// Batch `index`, still stored (shared, not copied, while it is in memory). Safe to call
  /// from several threads, but not during a Put.
  std::shared_ptr<const EncodedBatch> Read(int64_t index) const;

  /// Batch `index`, no longer stored (its memory is freed).
  EncodedBatch Take(int64_t index);

  int64_t batches() const { return static_cast<int64_t>(entries_.size()); }
  /// Bytes of the batches that went to the spill file.
  int64_t spilled_bytes() const { return spilled_bytes_; }

 private:
  struct Entry {
    std::shared_ptr<EncodedBatch> in_memory;
    // In the spill file: where the batch starts and the element count of each vector.
    int64_t offset = -1;
    std::vector<int64_t> sizes;
  };
  Entry& EntryFor(int64_t index);
  void Spill(int64_t offset, const EncodedBatch& batch);
  EncodedBatch Unspill(const Entry& entry) const;

  std::string spill_path_;
  int64_t memory_budget_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  int64_t memory_bytes_ = 0;
  int spill_fd_ = -1;
  int64_t spilled_bytes_ = 0;
};

/// The default memory budget: a quarter of physical memory, at most 2 GiB (enough for ~13M
/// Criteo rows; a larger input spills the rest, and the 45M-row Kaggle file peaks near 4 GB).
int64_t DefaultEtlMemoryBudget();

}  // namespace aiok::etl
