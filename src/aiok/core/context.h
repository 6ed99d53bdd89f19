// The run context: what every long operation needs to know about the run it is part of —
// the seed, the thread budget and whether the user asked to stop. Passed explicitly, never
// global, so that runs are reproducible and stoppable.
#pragma once

#include <atomic>
#include <cstdint>

namespace aiok {

/// A flag that long work polls to stop cleanly.
class CancellationToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  /// Throws Error(kCancelled) if cancelled.
  void ThrowIfCancelled() const;

 private:
  std::atomic<bool> cancelled_{false};
};

struct RunContext {
  /// Seed of every random choice in the run.
  uint64_t seed = 0;
  /// Threads the run may use (>= 1).
  int threads = 1;
  /// Polled by long work; never null.
  const CancellationToken* cancel = nullptr;
};

/// Makes the first SIGINT or SIGTERM cancel `token`; a second one (either signal) ends the
/// process at once, killed by that signal, even where nothing polls the token. The token must
/// outlive the process's use of it.
void CancelOnSignals(CancellationToken* token);

}  // namespace aiok
