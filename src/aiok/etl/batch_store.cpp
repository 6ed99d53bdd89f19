#include "aiok/etl/batch_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"

namespace aiok::etl {
namespace {

// Calls f(vector) for each vector of a batch, in the spill file's order.
template <typename Batch, typename F>
void ForEachVector(Batch& batch, F&& f) {
  f(batch.lines);
  f(batch.labels);
  f(batch.weights);
  f(batch.dense);
  f(batch.raw_dense);
  f(batch.categorical);
  f(batch.raw_keys);
  f(batch.list_offsets);
  f(batch.list_codes);
}

template <typename Vector>
size_t VectorBytes(const Vector& v) {
  return v.size() * sizeof(typename Vector::value_type);
}

}  // namespace

size_t EncodedBatch::bytes() const {
  size_t total = 0;
  ForEachVector(*this, [&](const auto& v) { total += VectorBytes(v); });
  return total;
}

BatchStore::BatchStore(std::string spill_path, int64_t memory_budget)
    : spill_path_(std::move(spill_path)), memory_budget_(memory_budget) {}

BatchStore::~BatchStore() {
  if (spill_fd_ >= 0) {
    ::close(spill_fd_);
    ::unlink(spill_path_.c_str());
  }
}

BatchStore::Entry& BatchStore::EntryFor(int64_t index) {
  AIOK_ASSERT(index >= 0);
  if (static_cast<size_t>(index) >= entries_.size())
    entries_.resize(static_cast<size_t>(index) + 1);
  return entries_[static_cast<size_t>(index)];
}

void BatchStore::Put(int64_t index, EncodedBatch batch) {
  const auto bytes = static_cast<int64_t>(batch.bytes());
  std::unique_lock<std::mutex> lock(mutex_);
  Entry& entry = EntryFor(index);
  AIOK_ASSERT(!entry.in_memory && entry.offset < 0);
  if (memory_bytes_ + bytes <= memory_budget_) {
    memory_bytes_ += bytes;
    entry.in_memory = std::make_shared<EncodedBatch>(std::move(batch));
    return;
  }
  if (spill_fd_ < 0) {
    spill_fd_ = ::open(spill_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (spill_fd_ < 0) {
      Throw(ErrorKind::kIo, "cannot create the ETL spill file '{}': {}", spill_path_,
            std::strerror(errno));
    }
  }
  // Reserve the batch's bytes under the lock; write them outside it.
  // (`entry` may move when another Put grows entries_: only the offset goes along.)
  const int64_t offset = spilled_bytes_;
  entry.offset = offset;
  spilled_bytes_ += bytes;
  ForEachVector(batch,
                [&](const auto& v) { entry.sizes.push_back(static_cast<int64_t>(v.size())); });
  lock.unlock();
  Spill(offset, batch);
}

void BatchStore::Spill(int64_t at, const EncodedBatch& batch) {
  auto offset = static_cast<size_t>(at);
  ForEachVector(batch, [&](const auto& v) {
    WriteAt(spill_fd_, spill_path_, offset, VectorBytes(v), v.data());
    offset += VectorBytes(v);
  });
}

std::shared_ptr<const EncodedBatch> BatchStore::Read(int64_t index) const {
  AIOK_ASSERT(index >= 0 && static_cast<size_t>(index) < entries_.size());
  const Entry& entry = entries_[static_cast<size_t>(index)];
  if (entry.in_memory)
    return entry.in_memory;
  return std::make_shared<const EncodedBatch>(Unspill(entry));
}

EncodedBatch BatchStore::Unspill(const Entry& entry) const {
  AIOK_CHECK(entry.offset >= 0, ErrorKind::kInternal, "an ETL batch was never stored");
  EncodedBatch batch;
  auto offset = static_cast<size_t>(entry.offset);
  size_t next = 0;
  ForEachVector(batch, [&](auto& v) {
    v.resize(static_cast<size_t>(entry.sizes[next++]));
    ReadAt(spill_fd_, spill_path_, offset, VectorBytes(v), v.data());
    offset += VectorBytes(v);
  });
  return batch;
}

EncodedBatch BatchStore::Take(int64_t index) {
  std::unique_lock<std::mutex> lock(mutex_);
  AIOK_ASSERT(index >= 0 && static_cast<size_t>(index) < entries_.size());
  Entry& entry = entries_[static_cast<size_t>(index)];
  if (!entry.in_memory) {
    const Entry spilled{nullptr, entry.offset, entry.sizes};
    lock.unlock();
    return Unspill(spilled);  // pread at its own offsets: other Takes may run beside it
  }
  EncodedBatch batch = std::move(*entry.in_memory);
  entry.in_memory.reset();
  memory_bytes_ -= static_cast<int64_t>(batch.bytes());
  return batch;
}

int64_t DefaultEtlMemoryBudget() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const int64_t physical = pages > 0 && page_size > 0 ? int64_t{pages} * page_size : 0;
  return std::min(physical / 4, int64_t{2} << 30);
}

}  // namespace aiok::etl
