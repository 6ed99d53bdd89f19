#include "aiok/core/threads.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "aiok/core/error.h"

namespace aiok {

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {
std::mutex g_hooks_mutex;
std::vector<void (*)(int)>& ThreadHooks() {
  static std::vector<void (*)(int)> hooks;
  return hooks;
}
}  // namespace

void AddThreadHook(void (*hook)(int threads)) {
  std::lock_guard<std::mutex> lock(g_hooks_mutex);
  ThreadHooks().push_back(hook);
}

void ApplyThreadSettings(int threads) {
  AIOK_CHECK(threads >= 1, ErrorKind::kConfig, "threads must be >= 1, got {}", threads);
  omp_set_num_threads(threads);
  std::lock_guard<std::mutex> lock(g_hooks_mutex);
  for (auto hook : ThreadHooks())
    hook(threads);
}

void ParallelFor(int64_t count, int threads, const std::function<void(int64_t)>& body) {
  if (count <= 0)
    return;
  const int workers = static_cast<int>(std::min<int64_t>(std::max(threads, 1), count));
  if (workers == 1) {
    for (int64_t i = 0; i < count; ++i)
      body(i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (i >= count || failed.load())
        return;
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error)
          first_error = std::current_exception();
        failed = true;
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (int t = 1; t < workers; ++t)
    pool.emplace_back(work);
  work();
  for (auto& thread : pool)
    thread.join();
  if (first_error)
    std::rethrow_exception(first_error);
}

}  // namespace aiok

namespace aiok {

bool OrderedTurns::Commit(int64_t index, const std::function<void()>& commit) {
  std::unique_lock<std::mutex> lock(mutex_);
  turn_changed_.wait(lock, [&] { return aborted_ || next_ == index; });
  if (aborted_)
    return false;
  try {
    commit();
  } catch (...) {
    aborted_ = true;
    turn_changed_.notify_all();
    throw;
  }
  ++next_;
  turn_changed_.notify_all();
  return true;
}

void OrderedTurns::Abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = true;
  turn_changed_.notify_all();
}

}  // namespace aiok
