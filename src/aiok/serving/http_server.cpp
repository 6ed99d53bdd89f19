#include "aiok/serving/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>

#include "aiok/core/error.h"
#include "aiok/core/threads.h"
#include "aiok/serving/bundle.h"
#include "aiok/serving/http_listener.h"
#include "aiok/serving/micro_batcher.h"
#include "aiok/serving/predictor.h"
#include "aiok/serving/request_rows.h"
#include "aiok/serving/serving_pipeline.h"

namespace aiok::serving {
namespace {

HttpResponse Json(int status, const nlohmann::json& body) {
  // replace: messages may quote bytes of the request that are not UTF-8 (a parse error shows
  // what it read); a strict dump would throw and turn a 400 into a 500.
  return {status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

HttpResponse JsonError(int status, const std::string& message) {
  return Json(status, {{"error", message}});
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
            {"model_threads", options.model_threads},
            {"max_connections", options.max_connections}}}};
}

HttpListenerOptions ListenerOptions(const ServeOptions& options) {
  HttpListenerOptions o;
  o.host = options.host;
  o.port = static_cast<int>(options.port);
  o.io_threads = static_cast<int>(options.http_threads);
  o.handler_threads = static_cast<int>(std::max<int64_t>(1, options.parse_threads));
  o.max_connections = options.max_connections;
  o.max_body_bytes = options.max_body_bytes;
  o.idle_timeout = std::chrono::seconds(options.idle_timeout_s);
  o.read_timeout = std::chrono::seconds(options.read_timeout_s);
  return o;
}

}  // namespace

void Serve(const ServeOptions& options, const RunContext& ctx,
           const std::function<void(int port)>& on_listening) {
  ValidateOptions(options, "serve");
  const Bundle bundle = OpenBundle(options.bundle_dir);
  const Predictor predictor(bundle, options.precision);
  const ServingPipeline features(bundle);
  const nlohmann::json metadata = Metadata(bundle, predictor, features, options);
  // Before the batcher: the batcher is destroyed first and answers what it still holds into
  // loops that are stopped but still exist.
  HttpListener listener(ListenerOptions(options));
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
      features.layout(), options.max_batch, std::chrono::milliseconds(options.max_wait_ms),
      options.max_queued_rows);
  std::atomic<int64_t> overloaded{0};

  listener.Route("GET", "/healthz", /*cheap=*/true,
                 [](HttpRequest&, const HttpRespond& respond) {
                   respond(Json(200, {{"status", "ok"}}));
                 });
  listener.Route("GET", "/v1/metadata", /*cheap=*/true,
                 [&](HttpRequest&, const HttpRespond& respond) {
                   nlohmann::json body = metadata;
                   body["serving"]["batches"] = batcher.batches();
                   body["serving"]["scored_rows"] = batcher.scored_rows();
                   body["serving"]["queued_rows"] = batcher.queued_rows();
                   body["serving"]["overloaded_requests"] = overloaded.load();
                   body["serving"]["open_connections"] = listener.open_connections();
                   body["serving"]["refused_connections"] = listener.refused_connections();
                   respond(Json(200, body));
                 });
  // Parsing runs on a worker thread (or the loop, with --parse-threads 0); the answer comes
  // from the batcher's thread.
  listener.Route("POST", "/v1/predict", /*cheap=*/options.parse_threads == 0,
                 [&](HttpRequest& request, const HttpRespond& respond) {
    const MicroBatcher::Arrival arrival(&batcher);  // batches being formed wait for this one
    data::FeatureBatch rows;
    try {
      nlohmann::json json;
      try {
        json = nlohmann::json::parse(request.body);
      } catch (const nlohmann::json::exception& e) {
        // parse_error, and out_of_range for a number beyond double (1e999): bad input, 400.
        return respond(JsonError(400, fmt::format("malformed JSON: {}", e.what())));
      }
      data::TableBatch table = ParseRequestRows(json, options.max_rows_per_request, features);
      rows = features.Transform(std::move(table), features.input_schema());
    } catch (const Error& e) {
      // Only bad input is the client's (400, 413); a broken invariant (AIOK_ASSERT) or any
      // other kind is a failure inside aiok, 500 (it was 400, blaming the client for a bug).
      const int status = HttpStatusOf(e.kind());
      if (status == 500)
        spdlog::error("serve: {}", e.what());
      return respond(JsonError(status, e.what()));
    } catch (const std::exception& e) {
      spdlog::error("serve: {}", e.what());
      return respond(JsonError(500, e.what()));
    }
    const bool queued = batcher.SubmitAsync(
        std::move(rows), [respond](std::vector<float> probabilities, std::exception_ptr error) {
          if (!error)
            return respond(Json(200, {{"probabilities", probabilities}}));
          std::string message = "internal error";
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            message = e.what();
          } catch (...) {
          }
          spdlog::error("serve: {}", message);
          respond(JsonError(500, message));
        });
    if (!queued) {
      ++overloaded;
      HttpResponse response = JsonError(503, "overloaded: too many rows waiting; retry later");
      response.headers.emplace_back("Retry-After", "1");
      respond(std::move(response));
    }
  });

  const int port = listener.port();
  listener.Run([&] { return ctx.cancel->cancelled(); },
               [&] {
                 on_listening(port);
               });
  if (ctx.cancel->cancelled())
    spdlog::info("serve: stopped; the requests in flight were answered");
}

}  // namespace aiok::serving
