// The HTTP/1.1 layer of `aiok serve`: an event-driven server (Boost.Beast on Asio, kept out of
// this header) with a route table.
//
// Connections cost a socket and a small buffer, not a thread: a few I/O threads each run an
// event loop over their share of the connections, so idle keep-alive clients and clients that
// send their headers slowly keep nobody else waiting. What would hold a connection forever is
// closed by timeouts (an idle connection after `idle_timeout`, a request whose header and body
// do not arrive within `read_timeout` with 408, an answer the client does not read within
// `read_timeout`), and connections beyond `max_connections` get 503 and are closed.
//
// Handlers marked cheap run on the I/O thread; the others run on `handler_threads` worker
// threads so that parsing a large body never stalls the event loop. A handler may answer
// later, from any thread (the prediction handler answers from the micro-batcher's thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aiok/core/error.h"

namespace aiok::serving {

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string path;    ///< the target's path ("http://host/p?q" and "/p?q" give "/p")
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string body;  ///< sent as application/json
  std::vector<std::pair<std::string, std::string>> headers;  ///< more headers (Allow, ...)
};

/// Sends the answer to a request, from any thread. The first call answers; later ones are
/// ignored.
using HttpRespond = std::function<void(HttpResponse)>;
/// Handles a request; may call `respond` later, from another thread. It should not throw: an
/// exception that escapes it is logged and, unless it had answered, answered with a JSON error
/// (the status of HttpStatusOf for an aiok Error, else 500). The server keeps running.
using HttpHandler = std::function<void(HttpRequest& request, const HttpRespond& respond)>;

/// The status of an answer to a request that failed with an aiok Error of `kind`: 400 bad
/// input, 413 over a configured limit, 500 anything else (a failure inside aiok, not the
/// client's).
int HttpStatusOf(ErrorKind kind);

struct HttpListenerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                ///< 0: any free port (see HttpListener::port)
  int io_threads = 1;          ///< event loops; each serves its share of the connections
  int handler_threads = 2;     ///< run the handlers not marked cheap
  int64_t max_connections = 10000;  ///< more are answered 503 and closed (lowered to fit the fd limit)
  int64_t max_body_bytes = int64_t{16} << 20;  ///< larger bodies get 413
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};  ///< between requests
  std::chrono::milliseconds read_timeout{std::chrono::seconds(10)};  ///< a request, an answer
};

class HttpListener {
 public:
  /// Binds and listens. Throws Error(kIo) naming the address when it cannot: "port 8080 is in
  /// use" when another process listens there (the socket does not share ports).
  explicit HttpListener(HttpListenerOptions options);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  /// Routes `method` `path` to `handler`. A known path asked with another method gets 405 and
  /// an Allow header listing the routed methods; an unknown path 404. `cheap` handlers answer
  /// at once and run on the I/O thread. Call before Run.
  void Route(const std::string& method, const std::string& path, bool cheap,
             HttpHandler handler);

  /// The bound port.
  int port() const;
  /// Connections open now, and connections refused at the cap so far (for metadata).
  int64_t open_connections() const;
  int64_t refused_connections() const;

  /// Serves until `stop_requested()` (polled every 50 ms) returns true, then stops accepting,
  /// closes connections that have no request in flight, answers those that have (closing
  /// them after), and returns. `on_running` is called once the loops run.
  void Run(const std::function<bool()>& stop_requested, const std::function<void()>& on_running);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiok::serving
