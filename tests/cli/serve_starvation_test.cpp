// `aiok serve` against clients that hold connections without using them (issue 15, defects
// 13 and 14): idle keep-alive connections and clients that send their headers a byte at a
// time must not keep anyone else from being answered; the timeouts and the connection cap
// close what would otherwise be held forever.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "serve_fixture.h"

namespace {
using Clock = std::chrono::steady_clock;

// A blocking loopback connection as a raw fd (no client library: these clients misbehave).
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  for (size_t sent = 0; sent < data.size();) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// What `fd` receives until the peer closes or `timeout` passes; `closed` says which.
std::string ReceiveUntilClosed(int fd, std::chrono::milliseconds timeout, bool* closed) {
  std::string received;
  *closed = false;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
      return received;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      *closed = true;
      return received;
    }
    received.append(buffer, static_cast<size_t>(n));
  }
}

// This test holds over a thousand sockets; the soft limit is often 1024.
void RaiseFileLimit() {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, 1400u) << "the hard limit on open files is too low for this test";
}

class ServeStarvationTest : public aiok::testing::ServeFixture {
 protected:
  void SetUp() override { RaiseFileLimit(); }
  void TearDown() override {
    for (int fd : fds_)
      ::close(fd);
    ServeFixture::TearDown();
  }

  int Open() {
    const int fd = Connect(port_);
    if (fd >= 0)
      fds_.push_back(fd);
    return fd;
  }

  std::vector<int> fds_;
};

// Latencies of one kind of request, in ms.
struct Latencies {
  std::vector<double> ms;
  int failed = 0;
  int over(double limit) const {
    return failed + static_cast<int>(std::count_if(ms.begin(), ms.end(),
                                                   [&](double v) { return v > limit; }));
  }
  double quantile(double q) const {
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    return sorted.empty() ? 0 : sorted[static_cast<size_t>(q * (sorted.size() - 1))];
  }
};

TEST_F(ServeStarvationTest, IdleAndSlowClientsDoNotDelayOthers) {
  // Timeouts longer than the test: the clients below stay connected throughout, so what is
  // measured is the server's design, not its timeouts cleaning up.
  StartServer({"--idle-timeout-s", "120", "--read-timeout-s", "120"});

  // 1000 keep-alive connections, each asks once and then stays idle.
  constexpr int kIdle = 1000;
  std::vector<int> idle;
  for (int i = 0; i < kIdle; ++i) {
    const int fd = Open();
    ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
    ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    idle.push_back(fd);
  }
  // Each gets its answer (a server with a thread per connection answers a few and keeps the
  // rest waiting).
  int answered = 0;
  const auto answers_deadline = Clock::now() + std::chrono::seconds(10);
  for (int fd : idle) {
    std::string response;
    while (response.find("\"ok\"") == std::string::npos && Clock::now() < answers_deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buffer[1024];
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0)
          break;
        response.append(buffer, static_cast<size_t>(n));
      }
    }
    answered += response.find("\"ok\"") != std::string::npos;
  }
  EXPECT_EQ(answered, kIdle);

  // 100 clients send a header that never ends, one byte per 100 ms each.
  constexpr int kSlow = 100;
  std::vector<int> slow;
  for (int i = 0; i < kSlow; ++i) {
    const int fd = Open();
    ASSERT_GE(fd, 0) << std::strerror(errno);
    slow.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread dripper([&] {
    const std::string header =
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(4000, 'a');
    for (size_t next = 0; !stop.load() && next < header.size(); ++next) {
      for (int fd : slow)
        ::send(fd, &header[next], 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all of them mid-header

  // Meanwhile, /healthz and a 1-row predict, each on a new connection as a new client would.
  const std::string body = nlohmann::json{{"rows", RawRows(1)}}.dump();
  constexpr int kSamples = 200;
  constexpr double kLimitMs = 100;
  Latencies health, predict;
  for (int i = 0; i < kSamples; ++i) {
    // p99 under 100 ms allows 2 of 200 over it: stop measuring once either has 3.
    if (health.over(kLimitMs) > 2 || predict.over(kLimitMs) > 2)
      break;
    for (Latencies* kind : {&health, &predict}) {
      httplib::Client client("127.0.0.1", port_);
      client.set_connection_timeout(2, 0);
      client.set_read_timeout(2, 0);
      const auto start = Clock::now();
      auto response = kind == &health ? client.Get("/healthz")
                                      : client.Post("/v1/predict", body, "application/json");
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (response && response->status == 200)
        kind->ms.push_back(ms);
      else
        ++kind->failed;
    }
  }
  stop = true;
  dripper.join();
  std::printf("healthz: %zu answered, %d failed, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              health.ms.size(), health.failed, health.quantile(0.5), health.quantile(0.99),
              health.quantile(1.0));
  std::printf("predict: %zu answered, %d failed, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              predict.ms.size(), predict.failed, predict.quantile(0.5), predict.quantile(0.99),
              predict.quantile(1.0));
  EXPECT_EQ(health.failed, 0);
  EXPECT_EQ(predict.failed, 0);
  EXPECT_EQ(static_cast<int>(health.ms.size()), kSamples);
  EXPECT_EQ(static_cast<int>(predict.ms.size()), kSamples);
  EXPECT_LE(health.over(kLimitMs), 2) << "p99 of /healthz over " << kLimitMs << " ms";
  EXPECT_LE(predict.over(kLimitMs), 2) << "p99 of a 1-row predict over " << kLimitMs << " ms";

  // The idle connections are still open and usable.
  for (int i = 0; i < kIdle; i += 100) {
    ASSERT_TRUE(SendAll(idle[i], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    bool closed = false;
    std::string response;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (response.find("\"ok\"") == std::string::npos && !closed && Clock::now() < deadline)
      response += ReceiveUntilClosed(idle[i], std::chrono::milliseconds(100), &closed);
    EXPECT_NE(response.find("\"ok\""), std::string::npos) << "idle connection " << i;
  }
}

TEST_F(ServeStarvationTest, AHeaderThatDoesNotArriveInTimeIsCutOff) {
  StartServer({"--read-timeout-s", "1"});
  const int fd = Open();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: 1"));
  bool closed = false;
  const auto start = Clock::now();
  const std::string response = ReceiveUntilClosed(fd, std::chrono::seconds(10), &closed);
  EXPECT_TRUE(closed) << "the server kept a half-sent request open for 10 s";
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(response.find("408"), std::string::npos) << response;
}

TEST_F(ServeStarvationTest, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  StartServer({"--idle-timeout-s", "1"});
  const int fd = Open();
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  bool closed = false;
  const auto start = Clock::now();
  const std::string response = ReceiveUntilClosed(fd, std::chrono::seconds(10), &closed);
  EXPECT_NE(response.find("\"ok\""), std::string::npos) << response;
  EXPECT_TRUE(closed) << "an idle keep-alive connection stayed open for 10 s";
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ServeStarvationTest, ConnectionsOverTheCapAreRefusedWith503) {
  StartServer({"--max-connections", "10"});
  std::vector<int> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(Open());
    ASSERT_GE(held.back(), 0);
  }
  // Give the server time to take the ten in before the eleventh comes (accepts are in order,
  // but the test must not depend on how fast).
  const int extra = Open();
  ASSERT_GE(extra, 0);
  bool closed = false;
  const std::string refused = ReceiveUntilClosed(extra, std::chrono::seconds(10), &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(refused.find("503"), std::string::npos) << refused;
  // One leaves; a new client gets in.
  ::close(held[0]);
  fds_.erase(std::find(fds_.begin(), fds_.end(), held[0]));
  bool ok = false;
  for (int attempt = 0; attempt < 100 && !ok; ++attempt) {
    auto response = Client().Get("/healthz");
    ok = response && response->status == 200;
    if (!ok)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(ok);
}

}  // namespace
