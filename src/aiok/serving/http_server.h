// `aiok serve`: a model bundle behind HTTP —
//
//   POST /v1/predict   {"rows": [...]} (see request_rows.h) -> {"probabilities": [...]}
//   GET  /healthz      {"status": "ok"}
//   GET  /v1/metadata  model type and architecture, input schema, metrics, bundle version,
//                      serving settings
//
// Status codes: 400 malformed JSON or rows (the message names the row and field), 404 unknown
// path, 405 wrong method (with Allow), 408 a request that did not arrive in time, 413 body or
// row limit exceeded, 503 overloaded (queue full, or too many connections; retry later), 500
// a failure inside aiok. The HTTP layer is event-driven (http_listener.h): idle and slow
// clients cost a socket, not a thread. Concurrent requests are micro-batched
// (micro_batcher.h). On cancellation (SIGINT/SIGTERM) the server stops accepting, answers
// what is in flight, and returns.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "aiok/core/context.h"
#include "aiok/core/options.h"

namespace aiok::serving {

struct ServeOptions {
  std::string bundle_dir;
  std::string host = "127.0.0.1";
  int64_t port = 8080;  ///< 0: any free port (reported through on_listening)
  int64_t max_batch = 512;
  int64_t max_wait_ms = 2;
  int64_t max_rows_per_request = 4096;
  int64_t max_body_bytes = int64_t{16} << 20;
  int64_t max_queued_rows = 65536;
  int64_t http_threads = 1;
  int64_t parse_threads = 2;
  int64_t max_connections = 10000;
  int64_t idle_timeout_s = 60;
  int64_t read_timeout_s = 10;
  int64_t model_threads = 1;
  std::string precision = "fp32";

  template <typename V>
  void Visit(V& v) {
    v.Text("host", &host, {}, "address to listen on");
    v.Int("port", &port, 0, 65535, "port to listen on (0: any free port)");
    v.Int("max-batch", &max_batch, 1, int64_t{1} << 20, "rows the model scores at most at once");
    v.Int("max-wait-ms", &max_wait_ms, 0, 10000,
          "how long a request may wait for others to share its batch");
    v.Int("max-rows", &max_rows_per_request, 1, int64_t{1} << 24, "rows per request (else 413)");
    v.Int("max-body-bytes", &max_body_bytes, 1024, int64_t{1} << 32,
          "request body size (else 413)");
    v.Int("max-queued-rows", &max_queued_rows, 1, int64_t{1} << 30,
          "rows waiting to be scored before new requests get 503");
    v.Int("http-threads", &http_threads, 1, 64,
          "event loops answering connections (each serves many; 1 suits 2 cores)");
    v.Int("parse-threads", &parse_threads, 0, 1024,
          "threads turning prediction requests into features (0: the event loop does it, "
          "so a large request delays the other connections)");
    v.Int("max-connections", &max_connections, 1, int64_t{1} << 24,
          "open connections at most; more get 503 (lowered to fit the open-file limit)");
    v.Int("idle-timeout-s", &idle_timeout_s, 1, 86400,
          "a keep-alive connection without a request is closed after this");
    v.Int("read-timeout-s", &read_timeout_s, 1, 3600,
          "a request's header and body must arrive within this (else 408), and an answer "
          "be read within it");
    v.Int("model-threads", &model_threads, 1, 1024,
          "threads per model call; 1 suits serving's small batches (the HTTP threads and the "
          "batching give the concurrency) and keeps the latency tail short");
    v.Text("precision", &precision, {"fp32", "bf16", "auto"}, "precision of the model");
  }
};

/// Serves until `ctx.cancel` is set, then drains and returns. `on_listening` is called with
/// the bound port once requests can be made. Throws Error(kIo) when the port is in use.
void Serve(const ServeOptions& options, const RunContext& ctx,
           const std::function<void(int port)>& on_listening);

}  // namespace aiok::serving
