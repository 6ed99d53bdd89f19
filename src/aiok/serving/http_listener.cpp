#include "aiok/serving/http_listener.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "aiok/core/error.h"

namespace aiok::serving {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kHeaderLimit = 16 * 1024;
// Descriptors kept free for everything else the process opens (bundle files, logs).
constexpr int64_t kSpareDescriptors = 64;

HttpResponse ErrorResponse(int status, const std::string& message) {
  // replace: a message may quote bytes of the request that are not UTF-8.
  return {status,
          nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace),
          {}};
}

// A whole response written with one non-blocking send, for the moments when no asynchronous
// write can be started: refusing a connection over the cap, or cutting off a request that
// did not arrive in time while its read is pending. Best effort: it fits any socket buffer.
void SendAndForget(tcp::socket& socket, int status, const char* reason, const char* message) {
  const std::string body = fmt::format("{{\"error\": \"{}\"}}", message);
  const std::string text = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      status, reason, body.size(), body);
  (void)::send(socket.native_handle(), text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

// Raises the soft limit on open files to the hard one (often 1024 of 1048576 on Linux), and
// returns how many connections fit under it.
int64_t ConnectionsTheFileLimitAllows() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return int64_t{1} << 30;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur == RLIM_INFINITY)
    return int64_t{1} << 30;
  return std::max<int64_t>(1, static_cast<int64_t>(limit.rlim_cur) - kSpareDescriptors);
}

// The path of a request target without its query string. A target in absolute form
// ("http://host:port/path") is reduced to its path: HTTP/1.1 servers must accept that form
// (RFC 9112, 3.2.2), and routing it as a whole answered 404.
std::string PathOf(beast::string_view target) {
  if (!target.empty() && target.front() != '/') {
    const size_t scheme_end = target.find("://");
    if (scheme_end != beast::string_view::npos) {
      const size_t path = target.find_first_of("/?", scheme_end + 3);
      target = path == beast::string_view::npos || target[path] == '?'
                   ? beast::string_view("/")
                   : target.substr(path);
    }
  }
  return std::string(target.substr(0, target.find('?')));
}

struct RouteEntry {
  std::string method;
  bool cheap;
  HttpHandler handler;
};

// Runs a handler so that one which throws cannot take the server down: on the event loop the
// exception would leave Run and end every connection, on a worker thread it would end the
// process (std::terminate). `respond` is made to answer once, so a handler that answered (or
// handed `respond` on) before it threw does not get a second answer written over the first.
void RunHandler(const HttpHandler& handler, HttpRequest& request, const HttpRespond& respond) {
  auto answered = std::make_shared<std::atomic<bool>>(false);
  const HttpRespond once = [answered, respond](HttpResponse response) {
    if (!answered->exchange(true))
      respond(std::move(response));
  };
  try {
    handler(request, once);
  } catch (const Error& e) {
    const int status = HttpStatusOf(e.kind());
    if (status == 500)
      spdlog::error("serve: {} {}: {}", request.method, request.path, e.what());
    once(ErrorResponse(status, e.what()));
  } catch (const std::exception& e) {
    spdlog::error("serve: {} {}: {}", request.method, request.path, e.what());
    once(ErrorResponse(500, fmt::format("internal error: {}", e.what())));
  } catch (...) {
    spdlog::error("serve: {} {}: an unknown exception", request.method, request.path);
    once(ErrorResponse(500, "internal error"));
  }
}

}  // namespace

struct HttpListener::Impl {
  class Connection;

  explicit Impl(HttpListenerOptions o) : options(std::move(o)) {}

  void Listen();
  void Accept();
  void Dispatch(HttpRequest& request, const HttpRespond& respond);
  void BeginStop();

  HttpListenerOptions options;
  std::map<std::string, std::vector<RouteEntry>> routes;
  std::atomic<int64_t> open{0};
  std::atomic<int64_t> refused{0};
  std::atomic<bool> stopping{false};
  // Connections by address, to close them when stopping; a connection removes itself when
  // destroyed, on any thread.
  std::mutex registry_mutex;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> registry;
  // Declared after the registry: destroying a loop destroys the connections it still holds.
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  size_t next_loop = 0;
  std::optional<asio::thread_pool> workers;
};

// One client connection, driven by the event loop that owns its socket: every member is
// touched only from that loop's thread, except through Respond, which posts there.
class HttpListener::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpListener::Impl& server, tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(static_cast<size_t>(server.options.max_body_bytes) + 2 * kHeaderLimit) {}

  ~Connection() {
    {
      std::lock_guard<std::mutex> lock(server_.registry_mutex);
      server_.registry.erase(this);
    }
    --server_.open;
  }

  void Start() { WaitForRequest(); }

  tcp::socket::executor_type executor() { return socket_.get_executor(); }

  // The server stops: a connection with no request in flight closes now, the others after
  // their answer.
  void BeginStop() {
    stopping_ = true;
    if (phase_ == Phase::kIdle || phase_ == Phase::kReading)
      Close();
  }

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kLingering, kClosed };

  void Arm(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
  }

  void OnTimer(beast::error_code ec) {
    // Re-arming cancels the previous wait; a wait that completed just before it was re-armed
    // sees a later expiry.
    if (ec == asio::error::operation_aborted || timer_.expiry() > Clock::now())
      return;
    switch (phase_) {
      case Phase::kReading:
        SendAndForget(socket_, 408, "Request Timeout",
                      "the request did not arrive within --read-timeout-s");
        Close();
        break;
      case Phase::kIdle:
      case Phase::kWriting:
      case Phase::kLingering:
        Close();
        break;
      case Phase::kHandling:
      case Phase::kClosed:
        break;
    }
  }

  // Waits for the first byte of the next request with the idle timeout; the read timeout
  // starts with it.
  void WaitForRequest() {
    phase_ = Phase::kIdle;
    if (stopping_)
      return Close();
    if (buffer_.size() > 0)
      return ReadHeader();  // pipelined: the next request is already here
    Arm(server_.options.idle_timeout);
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](beast::error_code ec) {
                         if (self->phase_ != Phase::kIdle)
                           return;
                         if (ec)
                           return self->Close();
                         self->ReadHeader();
                       });
  }

  void ReadHeader() {
    phase_ = Phase::kReading;
    Arm(server_.options.read_timeout);
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(static_cast<uint64_t>(server_.options.max_body_bytes));
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (self->phase_ != Phase::kReading)
                                return;
                              if (ec)
                                return self->OnReadError(ec);
                              self->OnHeader();
                            });
  }

  void OnHeader() {
    // Not to HTTP/1.0: it has no interim responses, so its client would take the 100 for the
    // answer (RFC 9110, 10.1.1: a server MUST ignore the expectation in an HTTP/1.0 request).
    if (!parser_->is_done() && parser_->get().version() >= 11 &&
        beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      // curl asks before sending a body over 1 KiB, and waits a second for this.
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (self->phase_ != Phase::kReading)
                            return;
                          if (ec)
                            return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done())
      return OnRequest();
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (self->phase_ != Phase::kReading)
                         return;
                       if (ec)
                         return self->OnReadError(ec);
                       self->OnRequest();
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Answer(ErrorResponse(413, fmt::format("the request body is over {} bytes "
                                                   "(--max-body-bytes)",
                                                   server_.options.max_body_bytes)),
                    false);
    }
    if (ec == http::error::header_limit)
      return Answer(ErrorResponse(431, "the request header is too large"), false);
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
      return Answer(ErrorResponse(400, "malformed HTTP request: " + ec.message()), false);
    Close();  // the client went away
  }

  void OnRequest() {
    phase_ = Phase::kHandling;
    timer_.cancel();
    http::request<http::string_body> message = parser_->release();
    parser_.reset();
    keep_alive_ = message.keep_alive();
    HttpRequest request{std::string(message.method_string()), PathOf(message.target()),
                        std::move(message.body())};
    // Answers on this connection's loop, whichever thread responds.
    HttpRespond respond = [self = shared_from_this()](HttpResponse response) {
      asio::dispatch(self->socket_.get_executor(),
                     [self, response = std::move(response)]() mutable {
                       self->Answer(std::move(response), self->keep_alive_);
                     });
    };
    server_.Dispatch(request, respond);
  }

  void Answer(HttpResponse answer, bool keep_alive) {
    if (phase_ == Phase::kClosed)
      return;
    const bool request_read = phase_ == Phase::kHandling;
    phase_ = Phase::kWriting;
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(answer.status));
    response_.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : answer.headers)
      response_.set(name, value);
    response_.body() = std::move(answer.body);
    response_.keep_alive(keep_alive && !stopping_);
    response_.prepare_payload();
    Arm(server_.options.read_timeout);
    http::async_write(socket_, response_,
                      [self = shared_from_this(), request_read](beast::error_code ec, size_t) {
                        if (self->phase_ != Phase::kWriting)
                          return;
                        if (ec)
                          return self->Close();
                        if (!request_read)
                          return self->Linger();
                        if (!self->response_.keep_alive())
                          return self->Close();
                        self->WaitForRequest();
                      });
  }

  // After answering a request that was not read to its end (413, 400): closing with unread
  // bytes would reset the connection, and the client could lose the answer before reading
  // it. Stop sending, then read and drop what still comes for a second.
  void Linger() {
    phase_ = Phase::kLingering;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    Arm(std::chrono::seconds(1));
    Drain();
  }

  void Drain() {
    buffer_.clear();
    socket_.async_read_some(buffer_.prepare(64 * 1024),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (self->phase_ != Phase::kLingering)
                                return;
                              if (ec)
                                return self->Close();
                              self->Drain();
                            });
  }

  void Close() {
    if (phase_ == Phase::kClosed)
      return;
    phase_ = Phase::kClosed;
    timer_.cancel();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  HttpListener::Impl& server_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  Phase phase_ = Phase::kIdle;
  bool keep_alive_ = true;
  bool stopping_ = false;
};

void HttpListener::Impl::Listen() {
  const int64_t fit = ConnectionsTheFileLimitAllows();
  if (options.max_connections > fit) {
    spdlog::info("serve: at most {} connections (--max-connections {}): the limit on open "
                 "files allows no more",
                 fit, options.max_connections);
    options.max_connections = fit;
  }
  for (int i = 0; i < std::max(1, options.io_threads); ++i)
    loops.push_back(std::make_unique<asio::io_context>(1));
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(options.host, ec);
  if (ec) {
    tcp::resolver resolver(*loops[0]);
    const auto found = resolver.resolve(options.host, "", ec);
    AIOK_CHECK(!ec && !found.empty(), ErrorKind::kIo, "cannot listen on {}: {}", options.host,
               ec ? ec.message() : "no address");
    address = found.begin()->endpoint().address();
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(options.port));
  acceptor.emplace(*loops[0]);
  acceptor->open(endpoint.protocol(), ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot open a socket: {}", ec.message());
  // SO_REUSEADDR only lets a restarted server bind while old connections are in TIME_WAIT;
  // unlike SO_REUSEPORT it does not let a second server listen on the same port.
  acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  acceptor->bind(endpoint, ec);
  AIOK_CHECK(ec != asio::error::address_in_use, ErrorKind::kIo,
             "cannot listen on {}: port {} is in use (another aiok serve?); choose another "
             "--port",
             options.host, options.port);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot listen on {}:{}: {}", options.host, options.port,
             ec.message());
  acceptor->listen(asio::socket_base::max_listen_connections, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot listen on {}:{}: {}", options.host, options.port,
             ec.message());
  accept_retry.emplace(*loops[0]);
}

void HttpListener::Impl::Accept() {
  asio::io_context& loop = *loops[next_loop++ % loops.size()];
  acceptor->async_accept(loop, [this](beast::error_code ec, tcp::socket socket) {
    if (stopping)
      return;
    if (ec) {
      if (ec == asio::error::operation_aborted)
        return;
      // Out of descriptors (EMFILE) and the like: accepting again at once would spin.
      spdlog::warn("serve: accepting a connection failed: {}", ec.message());
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code e) {
        if (!e && !stopping)
          Accept();
      });
      return;
    }
    if (open.load() >= options.max_connections) {
      ++refused;
      SendAndForget(socket, 503, "Service Unavailable",
                    "too many connections (--max-connections); retry later");
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      ++open;
      const auto executor = socket.get_executor();
      auto connection = std::make_shared<Connection>(*this, std::move(socket));
      {
        std::lock_guard<std::mutex> lock(registry_mutex);
        registry.emplace(connection.get(), connection);
      }
      asio::post(executor, [connection] { connection->Start(); });
    }
    Accept();
  });
}

void HttpListener::Impl::Dispatch(HttpRequest& request, const HttpRespond& respond) {
  const auto found = routes.find(request.path);
  if (found == routes.end())
    return respond(ErrorResponse(404, fmt::format("no such path: {}", request.path)));
  std::string allowed;
  for (const RouteEntry& route : found->second) {
    if (route.method != request.method) {
      allowed += (allowed.empty() ? "" : ", ") + route.method;
      continue;
    }
    if (route.cheap)
      return RunHandler(route.handler, request, respond);
    asio::post(*workers, [&route, request = std::move(request), respond]() mutable {
      RunHandler(route.handler, request, respond);
    });
    return;
  }
  HttpResponse response = ErrorResponse(
      405, fmt::format("{} takes {}, not {}", request.path, allowed, request.method));
  response.headers.emplace_back("Allow", allowed);
  respond(std::move(response));
}

void HttpListener::Impl::BeginStop() {
  stopping = true;
  beast::error_code ignored;
  acceptor->close(ignored);
  accept_retry->cancel();
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (const auto& [address, weak] : registry) {
    if (std::shared_ptr<Connection> connection = weak.lock()) {
      // On the connection's own loop; the shared_ptr keeps it alive until then.
      asio::post(connection->executor(), [connection] { connection->BeginStop(); });
    }
  }
}

int HttpStatusOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput:
      return 400;
    case ErrorKind::kTooLarge:
      return 413;
    case ErrorKind::kUsage:
    case ErrorKind::kConfig:
    case ErrorKind::kIo:
    case ErrorKind::kNotImplemented:
    case ErrorKind::kCancelled:
    case ErrorKind::kInternal:
      break;
  }
  return 500;
}

HttpListener::HttpListener(HttpListenerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->Listen();
}

HttpListener::~HttpListener() = default;

void HttpListener::Route(const std::string& method, const std::string& path, bool cheap,
                         HttpHandler handler) {
  impl_->routes[path].push_back({method, cheap, std::move(handler)});
}

int HttpListener::port() const { return impl_->acceptor->local_endpoint().port(); }

int64_t HttpListener::open_connections() const { return impl_->open.load(); }

int64_t HttpListener::refused_connections() const { return impl_->refused.load(); }

void HttpListener::Run(const std::function<bool()>& stop_requested,
                       const std::function<void()>& on_running) {
  Impl& impl = *impl_;
  impl.workers.emplace(static_cast<size_t>(std::max(1, impl.options.handler_threads)));
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& loop : impl.loops)
    guards.push_back(asio::make_work_guard(*loop));
  impl.Accept();

  // Polls for the stop request; once stopping, waits for the connections to close. Answers
  // in flight are bounded by the write timeout; the margin covers the model.
  asio::steady_timer poll(*impl.loops[0]);
  Clock::time_point give_up{};
  std::function<void()> check = [&] {
    if (!impl.stopping && stop_requested()) {
      impl.BeginStop();
      give_up = Clock::now() + impl.options.read_timeout + std::chrono::seconds(30);
    }
    if (impl.stopping && (impl.open.load() == 0 || Clock::now() > give_up)) {
      if (impl.open.load() > 0)
        spdlog::warn("serve: {} connections still open; closing them", impl.open.load());
      for (auto& guard : guards)
        guard.reset();
      for (auto& loop : impl.loops)
        loop->stop();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(50));
    poll.async_wait([&](beast::error_code ec) {
      if (!ec)
        check();
    });
  };
  check();
  asio::post(*impl.loops[0], on_running);

  std::vector<std::thread> threads;
  for (size_t i = 1; i < impl.loops.size(); ++i)
    threads.emplace_back([&loop = *impl.loops[i]] { loop.run(); });
  impl.loops[0]->run();
  for (auto& thread : threads)
    thread.join();
  impl.workers->join();
}

}  // namespace aiok::serving
