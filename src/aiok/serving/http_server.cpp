#include "aiok/serving/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <thread>

#include "aiok/core/error.h"
#include "aiok/core/threads.h"
#include "aiok/serving/bundle.h"
#include "aiok/serving/micro_batcher.h"
#include "aiok/serving/predictor.h"
#include "aiok/serving/serving_pipeline.h"
#include "aiok/serving/request_rows.h"

namespace aiok::serving {
namespace {

void Reply(httplib::Response& response, int status, const nlohmann::json& body) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void ReplyError(httplib::Response& response, int status, const std::string& message) {
  Reply(response, status, {{"error", message}});
}

nlohmann::json Metadata(const Bundle& bundle, const Predictor& predictor,
                        const ServingPipeline& features, const ServeOptions& options) {
  return {{"model", bundle.model},
          {"input", features.InputDescription()},
          {"features", features.layout().ToJson()},
          {"metrics", bundle.manifest.value("metrics", nlohmann::json::object())},
          {"bundle",
           {{"format", bundle.manifest.at("format")},
            {"format_version", bundle.manifest.at("format_version")},
            {"path", bundle.dir}}},
          {"serving",
           {{"precision", predictor.precision()},
            {"max_batch", options.max_batch},
            {"max_wait_ms", options.max_wait_ms},
            {"max_rows_per_request", options.max_rows_per_request},
            {"max_body_bytes", options.max_body_bytes},
            {"model_threads", options.model_threads}}}};
}

// cpp-httplib 0.11 listens with a backlog of 5: when more clients connect at once, the kernel
// drops their handshakes and they retry after a second, or find the connection reset. Linux
// lets listen() be called again on a bound socket to raise the backlog.
class Server : public httplib::Server {
 public:
  void RaiseListenBacklog() {
    if (::listen(svr_sock_, SOMAXCONN) != 0)
      spdlog::warn("serve: could not raise the listen backlog: {}", std::strerror(errno));
  }
};

}  // namespace

void Serve(const ServeOptions& options, const RunContext& ctx,
           const std::function<void(int port)>& on_listening) {
  ValidateOptions(options, "serve");
  const Bundle bundle = OpenBundle(options.bundle_dir);
  const Predictor predictor(bundle, options.precision);
  const ServingPipeline features(bundle);
  const nlohmann::json metadata = Metadata(bundle, predictor, features, options);
  MicroBatcher batcher(
      [&](const data::FeatureBatch& batch, float* out) {
        // Runs on the batcher's thread: OpenMP's thread count is per thread, so set it there.
        // With 2 threads per call, the idle OpenMP worker spun on a core the HTTP threads and
        // clients needed: p99 at 1 connection was ~10 ms instead of 0.2 ms.
        thread_local bool threads_set = false;
        if (!threads_set) {
          ApplyThreadSettings(static_cast<int>(options.model_threads));
          threads_set = true;
        }
        predictor.Predict(batch, out);
      },
      features.layout(), options.max_batch,
      std::chrono::milliseconds(options.max_wait_ms), options.max_queued_rows);

  Server server;
  const auto threads = static_cast<size_t>(options.http_threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  server.set_keep_alive_max_count(100000);
  server.set_tcp_nodelay(true);
  std::atomic<int64_t> overloaded{0};

  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    Reply(response, 200, {{"status", "ok"}});
  });
  server.Get("/v1/metadata", [&](const httplib::Request&, httplib::Response& response) {
    nlohmann::json body = metadata;
    body["serving"]["batches"] = batcher.batches();
    body["serving"]["scored_rows"] = batcher.scored_rows();
    body["serving"]["queued_rows"] = batcher.queued_rows();
    body["serving"]["overloaded_requests"] = overloaded.load();
    Reply(response, 200, body);
  });
  server.Post("/v1/predict", [&](const httplib::Request& request, httplib::Response& response) {
    const MicroBatcher::Arrival arrival(&batcher);  // batches being formed wait for this one
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(request.body);
    } catch (const nlohmann::json::parse_error& e) {
      return ReplyError(response, 400, fmt::format("malformed JSON: {}", e.what()));
    }
    data::FeatureBatch rows;
    try {
      data::TableBatch table = ParseRequestRows(json, options.max_rows_per_request, features);
      rows = features.Transform(std::move(table), features.input_schema());
    } catch (const Error& e) {
      return ReplyError(response, e.kind() == ErrorKind::kTooLarge ? 413 : 400, e.what());
    }
    std::optional<std::vector<float>> probabilities = batcher.Submit(std::move(rows));
    if (!probabilities) {
      ++overloaded;
      response.set_header("Retry-After", "1");
      return ReplyError(response, 503, "overloaded: too many rows waiting; retry later");
    }
    Reply(response, 200, {{"probabilities", *probabilities}});
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
        std::string message = "internal error";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          message = e.what();
        } catch (...) {
        }
        spdlog::error("serve: {}", message);
        ReplyError(response, 500, message);
      });

  int port = static_cast<int>(options.port);
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
    AIOK_CHECK(port > 0, ErrorKind::kIo, "cannot listen on {} (any port)", options.host);
  } else {
    AIOK_CHECK(server.bind_to_port(options.host, port), ErrorKind::kIo,
               "cannot listen on {}:{} (in use, or not an address of this machine?)",
               options.host, port);
  }
  server.RaiseListenBacklog();
  // Stops the server when the run is cancelled: listen_after_bind() then returns once the
  // requests in flight are answered.
  std::atomic<bool> listening_done{false};
  std::thread watcher([&] {
    while (!listening_done.load()) {
      if (ctx.cancel->cancelled()) {
        spdlog::info("serve: stopping; answering the requests in flight");
        server.stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::thread announce([&] {
    while (!server.is_running() && !listening_done.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (server.is_running())
      on_listening(port);
  });
  const bool ok = server.listen_after_bind();
  listening_done.store(true);
  announce.join();
  watcher.join();
  AIOK_CHECK(ok || ctx.cancel->cancelled(), ErrorKind::kIo, "the server on {}:{} failed",
             options.host, port);
}

}  // namespace aiok::serving
