// The HTTP layer of `aiok serve` on its own, with handlers that misbehave: a handler that
// throws, or answers twice, must leave its client a JSON answer and the server running. (The
// server's own handlers do not throw on any input found so far, so this is where the path to
// a 500 can be driven.)
#include "aiok/serving/http_listener.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>

namespace aiok::serving {
namespace {

// A listener on a free loopback port, running on its own thread until destroyed.
class RunningListener {
 public:
  explicit RunningListener(const std::function<void(HttpListener&)>& route) : listener_(Options()) {
    route(listener_);
    thread_ = std::thread([this] {
      try {
        listener_.Run([this] { return stop_.load(); }, [this] { running_ = true; });
      } catch (const std::exception& e) {
        failure_ = e.what();
      }
      finished_ = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!running_ && !finished_ && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~RunningListener() {
    stop_ = true;
    thread_.join();
  }

  bool running() const { return running_ && !finished_; }
  /// Why Run ended early ("" while it runs).
  const std::string& failure() const { return failure_; }

  /// A keep-alive client: its requests share one connection while the server keeps it open.
  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", listener_.port());
    client.set_keep_alive(true);
    client.set_read_timeout(30, 0);  // a guard against hanging only
    return client;
  }

 private:
  static HttpListenerOptions Options() {
    HttpListenerOptions options;
    options.port = 0;
    options.handler_threads = 1;  // a worker lost to an exception would leave none
    return options;
  }

  HttpListener listener_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> finished_{false};
  std::string failure_;
};

void Ok(HttpRequest&, const HttpRespond& respond) { respond({200, R"({"ok":true})", {}}); }

// The answer is `status` with a JSON body {"error": "..."} that contains `says`.
void ExpectJsonError(const httplib::Result& response, int status, const std::string& says,
                     const std::string& what) {
  ASSERT_TRUE(response) << what << ": no answer (" << httplib::to_string(response.error()) << ")";
  EXPECT_EQ(response->status, status) << what << ": " << response->body;
  EXPECT_EQ(response->get_header_value("Content-Type"), "application/json") << what;
  ASSERT_TRUE(nlohmann::json::accept(response->body)) << what << ": " << response->body;
  const auto json = nlohmann::json::parse(response->body);
  ASSERT_TRUE(json.contains("error") && json.at("error").is_string()) << response->body;
  EXPECT_NE(json.at("error").get<std::string>().find(says), std::string::npos)
      << what << ": " << response->body;
}

void ExpectOk(const httplib::Result& response, const std::string& what) {
  ASSERT_TRUE(response) << what << ": no answer (" << httplib::to_string(response.error()) << ")";
  EXPECT_EQ(response->status, 200) << what;
  EXPECT_EQ(response->body, R"({"ok":true})") << what;
}

// Before: an exception from a handler on the event loop left HttpListener::Run (the server
// stopped), and one from a worker thread ended the process.
TEST(HttpListenerTest, AHandlerThatThrowsIsAnswered500AndTheServerKeepsRunning) {
  RunningListener server([](HttpListener& listener) {
    listener.Route("GET", "/ok", /*cheap=*/true, Ok);
    listener.Route("GET", "/loop-throws", /*cheap=*/true, [](HttpRequest&, const HttpRespond&) {
      throw std::runtime_error("an exception on the event loop");
    });
    listener.Route("POST", "/worker-throws", /*cheap=*/false, [](HttpRequest&, const HttpRespond&) {
      throw std::logic_error("an exception on a worker");
    });
    listener.Route("GET", "/throws-a-number", /*cheap=*/false,
                   [](HttpRequest&, const HttpRespond&) { throw 42; });
  });
  ASSERT_TRUE(server.running()) << server.failure();
  httplib::Client client = server.Client();
  // Twice each: the worker and the loop survive more than one.
  for (int round = 0; round < 2; ++round) {
    ExpectJsonError(client.Get("/loop-throws"), 500, "an exception on the event loop",
                    "a cheap handler that throws");
    ExpectOk(client.Get("/ok"), "after a cheap handler threw");
    ExpectJsonError(client.Post("/worker-throws", "{}", "application/json"), 500,
                    "an exception on a worker", "a worker's handler that throws");
    ExpectOk(client.Get("/ok"), "after a worker's handler threw");
    ExpectJsonError(client.Get("/throws-a-number"), 500, "internal error",
                    "a handler that throws something not an exception");
  }
  // A new client too.
  ExpectOk(server.Client().Get("/ok"), "a new client");
  EXPECT_TRUE(server.running()) << server.failure();
}

// An aiok Error escaping a handler is answered like the server's own errors: the client's
// fault (bad input, over a limit) as 400 / 413, anything else — a broken invariant above all
// — as 500.
TEST(HttpListenerTest, AnAiokErrorFromAHandlerGetsTheStatusOfItsKind) {
  RunningListener server([](HttpListener& listener) {
    listener.Route("POST", "/fail", /*cheap=*/false, [](HttpRequest& request, const HttpRespond&) {
      if (request.body == "input")
        Throw(ErrorKind::kInvalidInput, "row 3: expected a number");
      if (request.body == "limit")
        Throw(ErrorKind::kTooLarge, "9 rows; the limit is 8");
      if (request.body == "io")
        Throw(ErrorKind::kIo, "cannot read the model");
      AIOK_ASSERT(request.body.empty());
    });
  });
  ASSERT_TRUE(server.running()) << server.failure();
  httplib::Client client = server.Client();
  ExpectJsonError(client.Post("/fail", "input", "text/plain"), 400, "row 3: expected a number",
                  "bad input");
  ExpectJsonError(client.Post("/fail", "limit", "text/plain"), 413, "the limit is 8",
                  "over a limit");
  ExpectJsonError(client.Post("/fail", "io", "text/plain"), 500, "cannot read the model",
                  "an I/O failure");
  ExpectJsonError(client.Post("/fail", "assert", "text/plain"), 500, "internal check failed",
                  "a broken invariant");
  EXPECT_TRUE(server.running()) << server.failure();
}

// The first answer counts: a handler that answered and then threw, or answered twice, sends
// one response, and the connection stays in step (a second response written behind the
// first would be read as the answer to the next request).
TEST(HttpListenerTest, OnlyTheFirstAnswerToARequestIsSent) {
  RunningListener server([](HttpListener& listener) {
    listener.Route("GET", "/ok", /*cheap=*/true, Ok);
    for (const bool cheap : {true, false}) {
      const std::string where = cheap ? "/loop" : "/worker";
      listener.Route("GET", where + "/answers-then-throws", cheap,
                     [](HttpRequest&, const HttpRespond& respond) {
                       respond({200, R"({"answer":"first"})", {}});
                       throw std::runtime_error("after answering");
                     });
      listener.Route("GET", where + "/answers-twice", cheap,
                     [](HttpRequest&, const HttpRespond& respond) {
                       respond({200, R"({"answer":"first"})", {}});
                       respond({500, R"({"answer":"second"})", {}});
                     });
    }
  });
  ASSERT_TRUE(server.running()) << server.failure();
  httplib::Client client = server.Client();
  for (const std::string where : {"/loop", "/worker"}) {
    for (const std::string path : {"/answers-then-throws", "/answers-twice"}) {
      auto response = client.Get(where + path);
      ASSERT_TRUE(response) << where + path;
      EXPECT_EQ(response->status, 200) << where + path;
      EXPECT_EQ(response->body, R"({"answer":"first"})") << where + path;
      ExpectOk(client.Get("/ok"), "the request after " + where + path);
    }
  }
  EXPECT_TRUE(server.running()) << server.failure();
}

TEST(HttpListenerTest, OnlyBadInputIsTheClientsFault) {
  EXPECT_EQ(HttpStatusOf(ErrorKind::kInvalidInput), 400);
  EXPECT_EQ(HttpStatusOf(ErrorKind::kTooLarge), 413);
  for (const ErrorKind kind :
       {ErrorKind::kUsage, ErrorKind::kConfig, ErrorKind::kIo, ErrorKind::kNotImplemented,
        ErrorKind::kCancelled, ErrorKind::kInternal})
    EXPECT_EQ(HttpStatusOf(kind), 500) << ErrorKindName(kind);
}

}  // namespace
}  // namespace aiok::serving
