#include "aiok/core/context.h"

#include <csignal>

#include "aiok/core/error.h"

namespace aiok {
namespace {
CancellationToken* g_signal_token = nullptr;

extern "C" void OnSignal(int signal_number) {
  if (g_signal_token == nullptr)
    return;
  if (g_signal_token->cancelled() && signal_number == SIGINT) {
    // Second Ctrl-C: the user does not want to wait for a clean stop.
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_signal_token->Cancel();
}
}  // namespace

void CancellationToken::ThrowIfCancelled() const {
  if (cancelled())
    throw Error(ErrorKind::kCancelled, "interrupted");
}

void CancelOnSignals(CancellationToken* token) {
  g_signal_token = token;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}

}  // namespace aiok
