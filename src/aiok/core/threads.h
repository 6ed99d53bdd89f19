// Thread settings and a small parallel loop. libtorch and OpenMP start with one thread on this
// machine, so every entry point calls ApplyThreadSettings once with the user's --threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace aiok {

/// Cores the process may run on (sched_getaffinity), at least 1.
int AvailableCores();

/// Sets OpenMP's threads to `threads` (>= 1) and runs every registered thread hook with it
/// (libtorch's, once a part that uses libtorch registers it: see torch_threads.h).
void ApplyThreadSettings(int threads);

/// Adds a function that ApplyThreadSettings calls with the thread count. Lets libraries above
/// core (libtorch users) follow --threads without core linking them: libtorch pulls in ~290
/// shared libraries and 0.3 s of start-up, which commands that do not train should not pay.
void AddThreadHook(void (*hook)(int threads));

/// Runs body(i) for i in [0, count) on up to `threads` threads, handing out indices in order
/// as threads become free. Rethrows the first exception after all threads stop; once one body
/// throws, no new indices are started.
void ParallelFor(int64_t count, int threads, const std::function<void(int64_t)>& body);

}  // namespace aiok

namespace aiok {

/// Lets parallel workers commit results in index order: a worker holding index i waits until
/// every index below i has committed. Use with ParallelFor (which hands out indices in order,
/// so the wait cannot deadlock). If a worker fails it must call Abort(), which releases every
/// waiter; their commits are then skipped.
class OrderedTurns {
 public:
  /// Waits for `index`'s turn, runs `commit`, and passes the turn on. Returns false (without
  /// running `commit`) if aborted.
  bool Commit(int64_t index, const std::function<void()>& commit);
  void Abort();

 private:
  std::mutex mutex_;
  std::condition_variable turn_changed_;
  int64_t next_ = 0;
  bool aborted_ = false;
};

}  // namespace aiok
