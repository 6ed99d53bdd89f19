#include "aiok/core/torch_threads.h"

#include <ATen/Parallel.h>

#include <atomic>

#include "aiok/core/threads.h"

namespace aiok {
namespace {
void SetTorchThreads(int threads) { at::set_num_threads(threads); }
}  // namespace

void UseTorchThreads() {
  static std::atomic<bool> added{false};
  if (!added.exchange(true))
    AddThreadHook(SetTorchThreads);
}

}  // namespace aiok
