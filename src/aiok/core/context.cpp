#include "aiok/core/context.h"

#include <csignal>

#include "aiok/core/error.h"

namespace aiok {
namespace {
CancellationToken* g_signal_token = nullptr;
// Counted apart from the token, which code may also cancel without a signal.
volatile std::sig_atomic_t g_signals_seen = 0;

extern "C" void OnSignal(int signal_number) {
  if (g_signal_token != nullptr && g_signals_seen == 0) {
    g_signals_seen = 1;
    // The first signal asks for a clean stop, which long work polls for.
    g_signal_token->Cancel();
    return;
  }
  // A second SIGINT or SIGTERM (either after either): the user does not want to wait for a
  // clean stop, or the process is blocked where it cannot poll. End it as the signal would.
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
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
