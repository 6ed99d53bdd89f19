// `aiok serve` at the level of HTTP/1.1 itself, over raw sockets so that each test decides
// byte for byte what is sent and when: `Expect: 100-continue`, pipelined requests, malformed
// requests, a body over --max-body-bytes refused before it is sent, and chunked bodies.
// The answers are held to what a plain single request (cpp-httplib) gets for the same rows.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "serve_fixture.h"

namespace {
using Clock = std::chrono::steady_clock;

// Only a guard against hanging: every wait below ends as soon as the server has answered.
constexpr std::chrono::seconds kHangGuard{30};
constexpr int64_t kMaxBodyBytes = 65536;

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string body;

  std::string header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
};

std::string Lower(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// One client connection over a raw socket: what is sent is exactly the bytes given, and
// responses are read one at a time from whatever the server has sent so far.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  /// Received bytes not yet taken by ReadResponse.
  const std::string& unread() const { return received_; }
  /// Why the last ReadResponse or ClosedByServer failed.
  const std::string& error() const { return error_; }

  /// Sends all of `data` (one send() when the socket buffer takes it, as loopback does).
  bool Send(const std::string& data) {
    for (size_t sent = 0; sent < data.size();) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  /// The next response: its status line, headers and, unless it is interim (1xx), a body of
  /// its Content-Length. nullopt when the connection ends first or the guard passes.
  std::optional<RawResponse> ReadResponse() {
    const auto deadline = Clock::now() + kHangGuard;
    size_t header_end;
    while ((header_end = received_.find("\r\n\r\n")) == std::string::npos) {
      if (!Receive(deadline))
        return Fail(Stopped() + " inside a response header: '" + received_ + "'");
    }
    const std::string head = received_.substr(0, header_end);
    RawResponse response;
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.compare(0, 9, "HTTP/1.1 ") != 0 || status_line.size() < 12)
      return Fail("not a status line: '" + status_line + "'");
    response.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos)
        return Fail("a header line without a colon: '" + line + "'");
      const size_t value = line.find_first_not_of(' ', colon + 1);
      response.headers[Lower(line.substr(0, colon))] =
          value == std::string::npos ? "" : line.substr(value);
    }
    received_.erase(0, header_end + 4);
    if (response.status >= 100 && response.status < 200)
      return response;
    const std::string length = response.header("content-length");
    if (length.empty())
      return Fail("a response without Content-Length");
    const size_t size = std::stoul(length);
    while (received_.size() < size) {
      if (!Receive(deadline))
        return Fail(Stopped() + " inside a response body: '" + received_ + "'");
    }
    response.body = received_.substr(0, size);
    received_.erase(0, size);
    return response;
  }

  /// True when the server ends the connection (end of stream or reset) without sending
  /// anything more than what was already read.
  bool ClosedByServer() {
    const auto deadline = Clock::now() + kHangGuard;
    while (Receive(deadline)) {
    }
    if (!received_.empty()) {
      error_ = "unexpected bytes: '" + received_ + "'";
      return false;
    }
    if (!closed_)
      error_ = Stopped();
    return closed_;
  }

 private:
  // Appends what one recv() brings; false at the end of the stream, on an error or after
  // `deadline`.
  bool Receive(Clock::time_point deadline) {
    if (closed_)
      return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
      return false;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      closed_ = true;  // 0: end of stream; < 0: reset
      return false;
    }
    received_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  // Why the last Receive returned false.
  std::string Stopped() const {
    return closed_ ? "the server ended the connection"
                   : "nothing came for " + std::to_string(kHangGuard.count()) + " s";
  }

  std::optional<RawResponse> Fail(const std::string& why) {
    error_ = why;
    return std::nullopt;
  }

  int fd_ = -1;
  std::string received_;
  std::string error_;
  bool closed_ = false;
};

std::string PredictBody(const std::vector<std::string>& rows) {
  return nlohmann::json{{"rows", rows}}.dump();
}

// A POST /v1/predict head for a body of `length` bytes, with `extra` header lines.
std::string PredictHead(size_t length, const std::string& extra = "") {
  return "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         extra + "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

std::string PredictRequest(const std::string& body, const std::string& extra = "") {
  return PredictHead(body.size(), extra) + body;
}

const std::string kHealthRequest = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

std::vector<double> ProbabilitiesOf(const std::string& body) {
  if (!nlohmann::json::accept(body))
    return {};
  const auto json = nlohmann::json::parse(body);
  if (!json.contains("probabilities"))
    return {};
  return json.at("probabilities").get<std::vector<double>>();
}

class ServeProtocolTest : public aiok::testing::ServeFixture {
 protected:
  void SetUp() override {
    // A read timeout far beyond any test's pace: no answer below may depend on the machine
    // being quick.
    StartServer({"--max-body-bytes", std::to_string(kMaxBodyBytes), "--read-timeout-s", "120"});
  }

  // What a plain request (its own connection, no Expect, Content-Length) gets for `body`.
  std::vector<double> Reference(const std::string& body) {
    auto response = Predict(body);
    if (!response || response->status != 200) {
      ADD_FAILURE() << "the reference request failed";
      return {};
    }
    return ProbabilitiesOf(response->body);
  }

  // The server still answers a new client: /healthz and a predict.
  void ExpectStillServing() {
    auto health = Client().Get("/healthz");
    ASSERT_TRUE(health) << "the server no longer answers";
    EXPECT_EQ(health->status, 200);
    auto predict = Predict(PredictBody(RawRows(1)));
    ASSERT_TRUE(predict);
    EXPECT_EQ(predict->status, 200) << predict->body;
  }
};

void ExpectProbabilities(const std::optional<RawResponse>& response,
                         const std::vector<double>& expected, const std::string& what) {
  ASSERT_TRUE(response) << what;
  ASSERT_EQ(response->status, 200) << what << ": " << response->body;
  EXPECT_EQ(response->header("content-type"), "application/json") << what;
  const std::vector<double> got = ProbabilitiesOf(response->body);
  ASSERT_EQ(got.size(), expected.size()) << what << ": " << response->body;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 1e-6) << what << ", row " << i;
}

// The next response on `client` is a 200 with `expected`.
void ExpectProbabilities(RawConnection& client, const std::vector<double>& expected,
                         const std::string& what) {
  const std::optional<RawResponse> response = client.ReadResponse();
  ASSERT_TRUE(response) << what << ": " << client.error();
  ExpectProbabilities(response, expected, what);
}

// An error answer: the status, a JSON body {"error": "..."} naming the problem, and the
// connection closed after it.
void ExpectErrorAndClose(RawConnection& client, int status, const std::string& what) {
  const std::optional<RawResponse> response = client.ReadResponse();
  ASSERT_TRUE(response) << what << ": " << client.error();
  EXPECT_EQ(response->status, status) << what << ": " << response->body;
  EXPECT_EQ(response->header("content-type"), "application/json") << what;
  EXPECT_EQ(Lower(response->header("connection")), "close") << what;
  ASSERT_TRUE(nlohmann::json::accept(response->body)) << what << ": " << response->body;
  const auto json = nlohmann::json::parse(response->body);
  EXPECT_TRUE(json.contains("error") && json.at("error").is_string() &&
              !json.at("error").get<std::string>().empty())
      << what << ": " << response->body;
  EXPECT_TRUE(client.ClosedByServer()) << what << ": " << client.error();
}

// A client that sends `Expect: 100-continue` and waits: the server must say 100 Continue
// (else such a client waits forever, or curl a second per request), then answer the body.
TEST_F(ServeProtocolTest, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  const std::vector<std::string> rows = RawRows(5);
  const std::string first = PredictBody({rows[0], rows[1], rows[2]});
  const std::string second = PredictBody({rows[3], rows[4]});
  const std::vector<double> first_expected = Reference(first);
  const std::vector<double> second_expected = Reference(second);

  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  // Twice on one connection: after the first exchange the connection is still in step.
  for (const auto& [body, expected] :
       {std::pair{first, first_expected}, std::pair{second, second_expected}}) {
    ASSERT_TRUE(client.Send(PredictHead(body.size(), "Expect: 100-continue\r\n")));
    const std::optional<RawResponse> interim = client.ReadResponse();
    ASSERT_TRUE(interim) << client.error();
    EXPECT_EQ(interim->status, 100);
    EXPECT_TRUE(client.unread().empty())
        << "more than 100 Continue before the body: " << client.unread();
    ASSERT_TRUE(client.Send(body));
    ExpectProbabilities(client, expected, "the answer after 100 Continue");
  }
  EXPECT_TRUE(client.unread().empty()) << client.unread();
}

// A client that sends the body right behind `Expect: 100-continue` without waiting (as
// clients do after their own short wait): the answer is the same, optionally after a 100, and
// the connection stays in step for the next request.
TEST_F(ServeProtocolTest, ExpectContinueWithTheBodySentAtOnceIsAnswered) {
  const std::string body = PredictBody(RawRows(3));
  const std::vector<double> expected = Reference(body);

  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  // Header names are case-insensitive; so is the expectation.
  ASSERT_TRUE(client.Send(PredictRequest(body, "expect: 100-Continue\r\n")));
  std::optional<RawResponse> response = client.ReadResponse();
  if (response && response->status == 100)
    response = client.ReadResponse();
  ASSERT_TRUE(response) << client.error();
  ExpectProbabilities(response, expected, "the answer to a body sent without waiting");
  ASSERT_TRUE(client.Send(kHealthRequest));
  const std::optional<RawResponse> health = client.ReadResponse();
  ASSERT_TRUE(health) << client.error();
  EXPECT_EQ(health->status, 200) << health->body;
  EXPECT_EQ(health->body, R"({"status":"ok"})");

  // HTTP/1.0 has no interim answers: a 100 would be taken for the answer, so the expectation
  // is ignored (RFC 9110, 10.1.1) and the first thing sent is the answer.
  RawConnection old_client(port_);
  ASSERT_TRUE(old_client.connected());
  std::string request = PredictRequest(body, "Expect: 100-continue\r\n");
  request.replace(request.find("HTTP/1.1"), 8, "HTTP/1.0");
  ASSERT_TRUE(old_client.Send(request));
  ExpectProbabilities(old_client, expected, "an HTTP/1.0 request with Expect");
}

// Requests written back to back in one send() are answered in their order, each whole, on
// the one connection, which stays open for more.
TEST_F(ServeProtocolTest, PipelinedRequestsAreAnsweredInOrder) {
  const std::vector<std::string> rows = RawRows(6);
  // Different row counts, so that answers out of order could not match by chance.
  const std::vector<std::string> bodies = {PredictBody({rows[0], rows[1]}), PredictBody({rows[2]}),
                                           PredictBody({rows[3], rows[4], rows[5]})};
  std::vector<std::vector<double>> expected;
  for (const std::string& body : bodies)
    expected.push_back(Reference(body));

  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  // A cheap request (answered on the event loop) between the predicts (answered from the
  // batcher's thread) must not overtake them.
  ASSERT_TRUE(client.Send(PredictRequest(bodies[0]) + kHealthRequest + PredictRequest(bodies[1]) +
                          PredictRequest(bodies[2])));
  ExpectProbabilities(client, expected[0], "pipelined request 1");
  const std::optional<RawResponse> health = client.ReadResponse();
  ASSERT_TRUE(health) << client.error();
  EXPECT_EQ(health->body, R"({"status":"ok"})");
  ExpectProbabilities(client, expected[1], "pipelined request 3");
  ExpectProbabilities(client, expected[2], "pipelined request 4");
  EXPECT_TRUE(client.unread().empty()) << "more than four answers: " << client.unread();

  // Still open and in step.
  ASSERT_TRUE(client.Send(PredictRequest(bodies[1])));
  ExpectProbabilities(client, expected[1], "a request after the pipeline");
}

// Small requests all arrive in the server's first read: nothing more will make the socket
// readable, so the server must find the next request in what it has already read.
TEST_F(ServeProtocolTest, PipelinedRequestsReadAtOnceAreAllAnswered) {
  const std::vector<std::string> bodies = {
      R"({"rows":[{"I1":1}]})", R"({"rows":[{"I1":2},{"I1":300}]})", R"({"rows":[{},{},{}]})"};
  std::vector<std::vector<double>> expected;
  for (const std::string& body : bodies)
    expected.push_back(Reference(body));
  const std::string pipeline = PredictRequest(bodies[0]) + kHealthRequest +
                               PredictRequest(bodies[1]) + PredictRequest(bodies[2]);
  // Beast's first read of a connection takes up to 512 bytes.
  ASSERT_LT(pipeline.size(), 512u) << "the pipeline must fit the server's first read";

  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(pipeline));
  ExpectProbabilities(client, expected[0], "small pipelined request 1");
  const std::optional<RawResponse> health = client.ReadResponse();
  ASSERT_TRUE(health) << client.error();
  EXPECT_EQ(health->body, R"({"status":"ok"})");
  ExpectProbabilities(client, expected[1], "small pipelined request 3");
  ExpectProbabilities(client, expected[2], "small pipelined request 4");
  EXPECT_TRUE(client.unread().empty()) << client.unread();
}

// Many one-row requests in one send(): each answer belongs to its own request.
TEST_F(ServeProtocolTest, ALongPipelineKeepsEachAnswerWithItsRequest) {
  constexpr int kRequests = 40;
  const std::vector<std::string> rows = RawRows(kRequests);
  std::string pipeline;
  std::vector<std::vector<double>> expected;
  for (const std::string& row : rows) {
    pipeline += PredictRequest(PredictBody({row}));
    expected.push_back(Reference(PredictBody({row})));
    ASSERT_EQ(expected.back().size(), 1u);
  }
  // The rows must be told apart by their answers for the order to be checked at all.
  int distinct_neighbours = 0;
  for (int i = 1; i < kRequests; ++i)
    distinct_neighbours += std::abs(expected[i][0] - expected[i - 1][0]) > 1e-4;
  ASSERT_GT(distinct_neighbours, kRequests / 2);

  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(pipeline));
  for (int i = 0; i < kRequests; ++i)
    ExpectProbabilities(client, expected[i], "pipelined request " + std::to_string(i));
  EXPECT_TRUE(client.unread().empty()) << client.unread();
}

// A request with `Connection: close` is the last one: its answer says so and the connection
// ends after it, leaving a request pipelined behind it unanswered.
TEST_F(ServeProtocolTest, NothingIsAnsweredAfterARequestThatClosesTheConnection) {
  const std::string body = PredictBody(RawRows(2));
  const std::vector<double> expected = Reference(body);
  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(PredictRequest(body, "Connection: close\r\n") + kHealthRequest));
  const std::optional<RawResponse> response = client.ReadResponse();
  ASSERT_TRUE(response) << client.error();
  ExpectProbabilities(response, expected, "the closing request");
  EXPECT_EQ(Lower(response->header("connection")), "close");
  EXPECT_TRUE(client.ClosedByServer()) << client.error();
}

// A target in absolute form (http://host/path), which HTTP/1.1 servers must accept (RFC 9112,
// 3.2.2), is routed by its path.
TEST_F(ServeProtocolTest, ATargetInAbsoluteFormIsRoutedByItsPath) {
  const std::string body = PredictBody(RawRows(2));
  const std::vector<double> expected = Reference(body);
  const std::string origin = "http://127.0.0.1:" + std::to_string(port_);
  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.Send("GET " + origin + "/healthz?verbose=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::optional<RawResponse> health = client.ReadResponse();
  ASSERT_TRUE(health) << client.error();
  EXPECT_EQ(health->status, 200) << health->body;
  std::string predict = PredictRequest(body);
  predict.replace(predict.find("/v1/predict"), 11, origin + "/v1/predict");
  ASSERT_TRUE(client.Send(predict));
  ExpectProbabilities(client, expected, "a predict in absolute form");
  ASSERT_TRUE(client.Send("GET " + origin + "/v2/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::optional<RawResponse> missing = client.ReadResponse();
  ASSERT_TRUE(missing) << client.error();
  EXPECT_EQ(missing->status, 404) << missing->body;
  EXPECT_NE(missing->body.find("no such path: /v2/nothing"), std::string::npos) << missing->body;
}

// Requests that are not HTTP/1.1 get 400 with a JSON body naming the problem, and the
// connection is closed (what follows on it cannot be trusted to be a request). Other clients
// are served as before.
TEST_F(ServeProtocolTest, MalformedRequestsGet400AndTheConnectionIsClosed) {
  const std::string body = PredictBody(RawRows(1));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"garbage instead of a request line", "GARBAGE\r\n\r\n"},
      {"a request line without a version", "GET /healthz\r\n\r\n"},
      {"a version that is not a number", "GET /healthz HTTP/1.x\r\nHost: a\r\n\r\n"},
      {"a protocol that is not HTTP", "GET /healthz HTTX/1.1\r\nHost: a\r\n\r\n"},
      {"a header line without a colon",
       "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHere\r\n\r\n"},
      {"a space before a header's colon", "GET /healthz HTTP/1.1\r\nHost : a\r\n\r\n"},
      {"a Content-Length that is not a number",
       "POST /v1/predict HTTP/1.1\r\nHost: a\r\nContent-Length: ten\r\n\r\n0123456789"},
      {"two different Content-Lengths",
       "POST /v1/predict HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
       "abcd"},
      // Which of the two frames the body is ambiguous (request smuggling): refused.
      {"Transfer-Encoding and Content-Length together",
       "POST /v1/predict HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body},
      {"a chunk size that is not hexadecimal",
       "POST /v1/predict HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
  };
  for (const auto& [what, request] : cases) {
    RawConnection client(port_);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.Send(request));
    ExpectErrorAndClose(client, 400, what);
  }

  // A malformed request behind a good one on a keep-alive connection: the good one is
  // answered, then the 400, then the end.
  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(kHealthRequest + "GARBAGE\r\n\r\n"));
  const std::optional<RawResponse> health = client.ReadResponse();
  ASSERT_TRUE(health) << client.error();
  EXPECT_EQ(health->status, 200);
  ExpectErrorAndClose(client, 400, "garbage after a good request");

  ExpectStillServing();
}

// A Content-Length over --max-body-bytes is refused from the header alone: the client, which
// sends no body, gets 413 (a client that waited for 100 Continue would otherwise wait
// forever, and one that sends would push megabytes only to have them dropped).
TEST_F(ServeProtocolTest, ABodyOverTheLimitIsRefusedBeforeItIsSent) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"one byte over the limit", PredictHead(kMaxBodyBytes + 1)},
      {"a gigabyte announced", PredictHead(size_t{1} << 30)},
      {"over the limit, asking to continue",
       PredictHead(kMaxBodyBytes + 1, "Expect: 100-continue\r\n")},
  };
  for (const auto& [what, head] : cases) {
    RawConnection client(port_);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.Send(head));
    const std::optional<RawResponse> response = client.ReadResponse();
    ASSERT_TRUE(response) << what << ": " << client.error();
    // Not 100 Continue: the body would be refused anyway.
    ASSERT_EQ(response->status, 413) << what << ": " << response->body;
    EXPECT_EQ(response->header("content-type"), "application/json") << what;
    EXPECT_NE(response->body.find("--max-body-bytes"), std::string::npos)
        << what << ": " << response->body;
    EXPECT_TRUE(nlohmann::json::accept(response->body)) << what << ": " << response->body;
    EXPECT_TRUE(client.ClosedByServer()) << what << ": " << client.error();
  }

  // Exactly at the limit is accepted: JSON padded with spaces to the limit.
  std::string body = PredictBody(RawRows(1));
  const std::vector<double> expected = Reference(body);
  body.resize(static_cast<size_t>(kMaxBodyBytes), ' ');
  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(PredictHead(body.size(), "Expect: 100-continue\r\n")));
  const std::optional<RawResponse> interim = client.ReadResponse();
  ASSERT_TRUE(interim) << client.error();
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.Send(body));
  ExpectProbabilities(client, expected, "a body of exactly --max-body-bytes");

  ExpectStillServing();
}

// A chunked body (no Content-Length) is decoded: chunks of any size, a chunk extension and
// a trailer do not change it; chunks adding up to more than the limit get 413.
TEST_F(ServeProtocolTest, AChunkedBodyIsDecoded) {
  const std::string body = PredictBody(RawRows(4));
  const std::vector<double> expected = Reference(body);
  auto chunk = [](const std::string& data, const std::string& extension = "") {
    char size[32];
    std::snprintf(size, sizeof(size), "%zx", data.size());
    return std::string(size) + extension + "\r\n" + data + "\r\n";
  };
  const std::string head =
      "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";

  RawConnection client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(head + chunk(body.substr(0, 1)) + chunk(body.substr(1, 7), ";x=y") +
                          chunk(body.substr(8)) + "0\r\nX-Trailer: t\r\n\r\n"));
  ExpectProbabilities(client, expected, "a body in three chunks");
  // The same body as one chunk, sent in pieces, on the same connection.
  const std::string whole = head + chunk(body) + "0\r\n\r\n";
  for (size_t at = 0; at < whole.size(); at += 100)
    ASSERT_TRUE(client.Send(whole.substr(at, 100)));
  ExpectProbabilities(client, expected, "a chunked body sent in pieces");

  // Chunks each under the limit, together over it.
  RawConnection big(port_);
  ASSERT_TRUE(big.connected());
  const std::string half(static_cast<size_t>(kMaxBodyBytes / 2) + 1, ' ');
  ASSERT_TRUE(big.Send(head + chunk(half) + chunk(half)));
  const std::optional<RawResponse> refused = big.ReadResponse();
  ASSERT_TRUE(refused) << big.error();
  EXPECT_EQ(refused->status, 413) << refused->body;
  EXPECT_TRUE(big.ClosedByServer()) << big.error();

  ExpectStillServing();
}

}  // namespace
