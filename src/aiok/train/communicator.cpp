#include "aiok/train/communicator.h"

// The C API only: Open MPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <dlfcn.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "aiok/core/error.h"
#include "aiok/core/threads.h"

namespace aiok::train {
namespace {

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* name() const override { return "single process"; }
  void AllReduceSum(float*, int64_t, int64_t) override {}
  void AllGatherV(const void* data, int64_t bytes, std::vector<uint8_t>* out,
                  std::vector<int64_t>* sizes) override {
    const auto* begin = static_cast<const uint8_t*>(data);
    out->assign(begin, begin + bytes);
    sizes->assign(1, bytes);
  }
  void Broadcast(void*, int64_t, int) override {}
  void Barrier() override {}
  [[noreturn]] void Abort(int code) override { std::_Exit(code); }
};

// Ends this process when one collective has waited longer than `timeout_seconds`. A rank that
// dies ends the job through mpirun, but one that stops answering while alive (stopped, stuck
// in I/O, a host whose network went away) would leave the others inside MPI forever, where no
// signal handler of ours runs. Every wait is timed except those of ranks other than 0 in a
// barrier: there they wait for work rank 0 does alone (evaluation, checkpoints, the final
// weights), which on a large model can outlast any step; rank 0, arriving last, times its own
// wait there, so a rank that stops while rank 0 evaluates is still caught. The watchdog is a thread of its own that makes no
// MPI call (the communicator is MPI_THREAD_FUNNELED): it prints why and _Exits, and mpirun,
// seeing a rank end without finalizing, stops the others.
class CollectiveWatchdog {
 public:
  CollectiveWatchdog(double timeout_seconds, int rank, int size)
      : timeout_(timeout_seconds), rank_(rank), size_(size) {
    if (timeout_ > 0)
      thread_ = std::thread([this] { Watch(); });
  }
  ~CollectiveWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

  /// Marks the caller as waiting in `operation` (a string literal) until it goes out of scope.
  class Waiting {
   public:
    Waiting(CollectiveWatchdog& dog, const char* operation) : dog_(dog) {
      dog_.operation_.store(operation);
      dog_.since_ns_.store(NowNs());
    }
    ~Waiting() { dog_.since_ns_.store(0); }

   private:
    CollectiveWatchdog& dog_;
  };

 private:
  static int64_t NowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void Watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; })) {
      const int64_t since = since_ns_.load();
      if (since == 0 || static_cast<double>(NowNs() - since) * 1e-9 <= timeout_)
        continue;
      std::fprintf(stderr,
                   "aiok: rank %d of %d: no answer from the other ranks for %.0f s in %s "
                   "(--rank-timeout): a rank is stopped, stuck or unreachable; stopping every "
                   "rank\n",
                   rank_, size_, timeout_, operation_.load());
      std::fflush(nullptr);
      std::_Exit(kExitCode);
    }
  }

  static constexpr int kExitCode = 124;  // as timeout(1)
  const double timeout_;
  const int rank_;
  const int size_;
  std::atomic<int64_t> since_ns_{0};
  std::atomic<const char*> operation_{""};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// Collectives on a duplicate of MPI_COMM_WORLD. Errors inside MPI stay fatal (Open MPI's
// default): a collective that fails ends the job rather than leaving ranks waiting.
class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(double timeout_seconds) {
    // Open MPI loads its transports as plugins that expect libmpi's symbols to be global;
    // libmpi came into this process through aiok's own plugin, opened RTLD_LOCAL. Promote it.
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) != 0 && info.dli_fname)
      dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    int provided = 0;
    // Only the thread that trains calls MPI; the loader's and libtorch's threads never do.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    watchdog_ = std::make_unique<CollectiveWatchdog>(timeout_seconds, rank_, size_);
  }
  ~MpiCommunicator() override {
    watchdog_.reset();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
      MPI_Comm_free(&comm_);
      MPI_Finalize();
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "MPI"; }

  void AllReduceSum(float* data, int64_t n, int64_t bucket_floats) override {
    CollectiveWatchdog::Waiting waiting(*watchdog_, "an all-reduce");
    const int64_t bucket = std::clamp<int64_t>(bucket_floats, 1, INT_MAX);
    for (int64_t offset = 0; offset < n; offset += bucket) {
      const auto count = static_cast<int>(std::min(bucket, n - offset));
      MPI_Allreduce(MPI_IN_PLACE, data + offset, count, MPI_FLOAT, MPI_SUM, comm_);
    }
  }

  void AllGatherV(const void* data, int64_t bytes, std::vector<uint8_t>* out,
                  std::vector<int64_t>* sizes) override {
    CollectiveWatchdog::Waiting waiting(*watchdog_, "an all-gather");
    sizes->assign(static_cast<size_t>(size_), 0);
    MPI_Allgather(&bytes, 1, MPI_INT64_T, sizes->data(), 1, MPI_INT64_T, comm_);
    std::vector<int64_t> offsets(static_cast<size_t>(size_) + 1, 0);
    for (int r = 0; r < size_; ++r)
      offsets[r + 1] = offsets[r] + (*sizes)[r];
    out->resize(static_cast<size_t>(offsets.back()));
    // MPI counts and displacements are ints: gather in rounds of at most `chunk` bytes per
    // rank, so that one round's whole receive buffer stays below 2 GiB.
    const int64_t chunk = std::max<int64_t>(1, INT_MAX / size_);
    const int64_t largest = *std::max_element(sizes->begin(), sizes->end());
    std::vector<int> counts(static_cast<size_t>(size_));
    std::vector<int> displacements(static_cast<size_t>(size_));
    std::vector<uint8_t> round_buffer;
    for (int64_t begin = 0; begin < largest || begin == 0; begin += chunk) {
      int64_t total = 0;
      for (int r = 0; r < size_; ++r) {
        counts[r] = static_cast<int>(std::clamp<int64_t>((*sizes)[r] - begin, 0, chunk));
        displacements[r] = static_cast<int>(total);
        total += counts[r];
      }
      round_buffer.resize(static_cast<size_t>(total));
      const auto* send = static_cast<const uint8_t*>(data) + std::min(begin, bytes);
      MPI_Allgatherv(send, counts[rank_], MPI_BYTE, round_buffer.data(), counts.data(),
                     displacements.data(), MPI_BYTE, comm_);
      for (int r = 0; r < size_; ++r) {
        std::memcpy(out->data() + offsets[r] + begin, round_buffer.data() + displacements[r],
                    static_cast<size_t>(counts[r]));
      }
      if (largest == 0)
        break;
    }
  }

  void Broadcast(void* data, int64_t bytes, int root) override {
    // Wait for the root first without spinning: it may have been evaluating or writing a
    // checkpoint for seconds, and a spinning rank takes a core from it.
    Barrier();
    CollectiveWatchdog::Waiting waiting(*watchdog_, "a broadcast");
    constexpr int64_t kChunk = int64_t{1} << 30;
    for (int64_t offset = 0; offset < bytes; offset += kChunk) {
      const auto count = static_cast<int>(std::min(kChunk, bytes - offset));
      MPI_Bcast(static_cast<uint8_t*>(data) + offset, count, MPI_BYTE, root, comm_);
    }
  }

  void Barrier() override {
    std::optional<CollectiveWatchdog::Waiting> waiting;
    if (rank_ == 0)  // the others wait here for rank 0's own work: not timed
      waiting.emplace(*watchdog_, "a barrier");
    MPI_Request request;
    MPI_Ibarrier(comm_, &request);
    // Spin briefly (ranks usually arrive together), then poll every millisecond.
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      int done = 0;
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done)
        return;
      if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(20))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  [[noreturn]] void Abort(int code) override {
    MPI_Abort(comm_, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

int64_t EnvironmentInt(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoll(value, nullptr, 10) : -1;
}

}  // namespace

std::unique_ptr<Communicator> SingleProcess() {
  return std::make_unique<SingleProcessCommunicator>();
}

bool LaunchedByMpirun() {
  // Open MPI's mpirun; MPICH's Hydra and other PMI launchers; PMIx launchers.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name) != nullptr)
      return true;
  }
  return false;
}

std::unique_ptr<Communicator> ConnectRanks(double timeout_seconds) {
  if (!LaunchedByMpirun())
    return SingleProcess();
  return std::make_unique<MpiCommunicator>(timeout_seconds);
}

int DefaultThreadsPerRank() {
  const int available = AvailableCores();
  const int machine = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (available < machine)
    return available;  // the launcher bound this rank to these cores
  int64_t local = EnvironmentInt("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (local <= 0)
    local = EnvironmentInt("MPI_LOCALNRANKS");  // Hydra
  if (local <= 0)
    local = 1;
  return std::max<int>(1, machine / static_cast<int>(local));
}

}  // namespace aiok::train
