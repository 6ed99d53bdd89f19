// The processes of a data-parallel run and the collectives they need: sums of float arrays,
// gathers of byte blocks of any length, broadcasts and barriers — and a way to stop all of
// them at once. Two implementations: one process (every collective is the identity; what
// `aiok train` runs without mpirun) and MPI, chosen by ConnectRanks() from the environment
// mpirun sets. Torch-free and MPI-free: callers never include mpi.h.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace aiok::train {

class Communicator {
 public:
  virtual ~Communicator() = default;

  /// This process's rank, 0 <= rank() < size().
  virtual int rank() const = 0;
  /// The number of ranks.
  virtual int size() const = 0;
  /// "MPI" or "single process", for messages.
  virtual const char* name() const = 0;

  /// Sums `data[0, n)` over the ranks in place. Every rank must call it with the same n, and
  /// ends with the same values. Large arrays are reduced in buckets of at most `bucket_floats`
  /// (bounded messages; the order of the sum inside one element does not depend on it).
  virtual void AllReduceSum(float* data, int64_t n, int64_t bucket_floats = int64_t{1} << 22) = 0;
  /// Each rank's block of bytes, in rank order, concatenated into `out`; `sizes[r]` is rank r's
  /// block size. Blocks may differ in size (zero included).
  virtual void AllGatherV(const void* data, int64_t bytes, std::vector<uint8_t>* out,
                          std::vector<int64_t>* sizes) = 0;
  /// Rank `root`'s `bytes` at `data` copied to every rank's `data`. Waits without spinning
  /// (the root may take long: evaluation, checkpoints).
  virtual void Broadcast(void* data, int64_t bytes, int root) = 0;
  /// Returns once every rank has called it; waits without spinning.
  virtual void Barrier() = 0;
  /// Ends every rank's process with exit code `code`. Never returns.
  [[noreturn]] virtual void Abort(int code) = 0;
};

/// A run of one process: rank 0 of 1.
std::unique_ptr<Communicator> SingleProcess();

/// Whether this process was started by an MPI launcher (mpirun/mpiexec of Open MPI, or a
/// PMI-based one): the environment names its rank and the job's size.
bool LaunchedByMpirun();

/// MPI when LaunchedByMpirun() (initialized here, finalized when the communicator is
/// destroyed), else SingleProcess(). MPI is never initialized otherwise, so a plain `aiok
/// train` neither starts an MPI runtime nor needs one. A rank that waits in one collective
/// longer than `timeout_seconds` (0: forever) prints why and ends with exit code 124, which
/// makes mpirun stop every rank: a rank that stops answering cannot hang the job. The other
/// ranks' waits in a barrier for rank 0's evaluation and checkpoints are not timed.
std::unique_ptr<Communicator> ConnectRanks(double timeout_seconds);

/// Threads for each rank when --threads is not given: the cores the launcher bound this
/// process to, or else this machine's cores shared among the ranks on it.
int DefaultThreadsPerRank();

}  // namespace aiok::train
