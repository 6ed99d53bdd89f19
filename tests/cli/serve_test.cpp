// `aiok serve` started as a user starts it, on a free loopback port, answering good and bad
// requests with the documented status codes, batching concurrent ones, draining on SIGTERM.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "process.h"
#include "serve_fixture.h"

namespace {
namespace fs = std::filesystem;
using aiok::testing::AiokProcess;

class ServeTest : public aiok::testing::ServeFixture {
 protected:
  void SetUp() override { Start("5"); }

  void Start(const std::string& max_wait_ms, const std::string& max_queued_rows = "65536") {
    StartServer({"--max-rows", "8", "--max-body-bytes", "65536", "--max-wait-ms", max_wait_ms,
                 "--max-queued-rows", max_queued_rows});
  }
};

TEST_F(ServeTest, HealthAndMetadata) {
  auto health = Client().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metadata = Client().Get("/v1/metadata");
  ASSERT_TRUE(metadata);
  EXPECT_EQ(metadata->status, 200);
  const auto json = nlohmann::json::parse(metadata->body);
  EXPECT_EQ(json.at("model").at("type"), "dlrm");
  EXPECT_EQ(json.at("bundle").at("format_version"), 2);
  // The fields a request may name: Criteo's 39 without the label, with roles and types.
  ASSERT_EQ(json.at("input").at("fields").size(), 39u);
  EXPECT_EQ(json.at("input").at("fields")[13].at("name"), "C1");
  EXPECT_EQ(json.at("input").at("fields")[13].at("type"), "uint64");
  EXPECT_EQ(json.at("features").at("categorical").size(), 26u);
  EXPECT_TRUE(json.at("metrics").at("test").contains("auc"));
  auto missing = Client().Get("/v2/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(ServeTest, PredictsTsvAndNamedRowsLikeAiokPredict) {
  const std::vector<std::string> rows = RawRows(3);
  nlohmann::json request = {{"rows", rows}};
  request["rows"].push_back({{"I1", 3}, {"C1", "68fd1e64"}, {"C9", nullptr}});
  auto response = Predict(request.dump());
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  const auto p = nlohmann::json::parse(response->body).at("probabilities");
  ASSERT_EQ(p.size(), 4u);
  for (const auto& v : p) {
    EXPECT_GT(v.get<double>(), 0.0);
    EXPECT_LT(v.get<double>(), 1.0);
  }
  // The same rows through `aiok predict`.
  std::string tsv;
  for (const auto& row : rows)
    tsv += row + "\n";
  std::ofstream((*root_ / "rows.tsv").string()) << tsv;
  ASSERT_EQ(aiok::testing::RunAiok({"predict", "--model", BundleDir(),
                                    "--input", (*root_ / "rows.tsv").string(), "--out",
                                    (*root_ / "rows.out").string()},
                                   (*root_ / "p.out").string(), (*root_ / "p.err").string()),
            0);
  std::ifstream predicted(*root_ / "rows.out");
  for (size_t i = 0; i < rows.size(); ++i) {
    double expected = 0;
    predicted >> expected;
    EXPECT_NEAR(p[i].get<double>(), expected, 1e-6) << "row " << i;
  }
}

TEST_F(ServeTest, BadRequestsGetClearStatusCodes) {
  auto malformed = Predict("{\"rows\": [");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_NE(malformed->body.find("malformed JSON"), std::string::npos);

  auto short_row = Predict(nlohmann::json{{"rows", {RawRows(1)[0], "1\t2"}}}.dump());
  ASSERT_TRUE(short_row);
  EXPECT_EQ(short_row->status, 400);
  EXPECT_NE(short_row->body.find("row 1"), std::string::npos) << short_row->body;
  EXPECT_NE(short_row->body.find("expected 39 fields, found 2"), std::string::npos)
      << short_row->body;

  auto bad_type = Predict(R"({"rows": [{"I2": "seven"}]})");
  ASSERT_TRUE(bad_type);
  EXPECT_EQ(bad_type->status, 400);
  EXPECT_NE(bad_type->body.find("row 0, field I2"), std::string::npos) << bad_type->body;

  auto too_many = Predict(nlohmann::json{{"rows", std::vector<nlohmann::json>(9, nlohmann::json::object())}}.dump());
  ASSERT_TRUE(too_many);
  EXPECT_EQ(too_many->status, 413);
  EXPECT_NE(too_many->body.find("limit is 8 (--max-rows)"), std::string::npos) << too_many->body;

  auto too_big = Predict(std::string(70000, ' '));
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);

  // Still healthy afterwards.
  auto health = Client().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Issue 15, defect 11: nlohmann's parse error quotes the bytes it choked on, and dumping that
// message as JSON threw again (type_error 316), which answered 500.
TEST_F(ServeTest, InvalidUtf8InTheBodyIsABadRequest) {
  const std::vector<std::string> bodies = {"{\"rows\": [\"\xff\xfe\"]}", "\xc3\x28",
                                           "{\"rows\": [{\"C1\": \"\xed\xa0\x80\"}]}",
                                           "{\"\x80\": 1}",
                                           // A number beyond double (fuzzing finding 2).
                                           "{\"rows\": [{\"C1\": 1e999}]}"};
  for (const std::string& body : bodies) {
    auto response = Predict(body);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400) << response->body;
    // The error body is still valid JSON (the bad bytes replaced).
    EXPECT_TRUE(nlohmann::json::accept(response->body)) << response->body;
  }
}

// Issue 15, defect 12: a known path with the wrong method is 405 with the allowed method.
TEST_F(ServeTest, AWrongMethodIs405AndSaysWhichIsAllowed) {
  auto get = Client().Get("/v1/predict");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  EXPECT_TRUE(nlohmann::json::accept(get->body)) << get->body;
  auto post = Client().Post("/healthz", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET");
  auto del = Client().Delete("/v1/metadata");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(del->get_header_value("Allow"), "GET");
  // A query string does not change the path.
  auto health = Client().Get("/healthz?verbose=1");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Issue 15, defect 15: a second server on the same port started and shared the port.
TEST_F(ServeTest, ASecondServerOnAPortInUseFailsClearly) {
  aiok::testing::AiokProcess second(
      {"serve", "--model", BundleDir(), "--port", std::to_string(port_)},
      (*root_ / "second.out").string(), (*root_ / "second.err").string());
  const auto start = std::chrono::steady_clock::now();
  const bool listened = second.WaitFor(
      [&] { return second.out().find("listening on") != std::string::npos; },
      std::chrono::seconds(60));
  EXPECT_FALSE(listened) << "a second server listens on port " << port_;
  if (!listened) {
    if (std::chrono::steady_clock::now() - start >= std::chrono::seconds(60))
      second.Signal(SIGKILL);  // neither listening nor exiting: fail, but do not hang
    EXPECT_EQ(second.Wait(), 1);
    EXPECT_NE(second.err().find(std::to_string(port_) + " is in use"), std::string::npos)
        << second.err();
  }
  // The first server still answers.
  auto health = Client().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(ServeTest, ConcurrentRequestsAreBatched) {
  const std::string body = nlohmann::json{{"rows", RawRows(2)}}.dump();
  constexpr int kClients = 12;
  constexpr int kRequests = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      httplib::Client client = Client();
      for (int r = 0; r < kRequests; ++r) {
        auto response = client.Post("/v1/predict", body, "application/json");
        ok += response && response->status == 200;
      }
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  const auto serving = nlohmann::json::parse(Client().Get("/v1/metadata")->body).at("serving");
  EXPECT_EQ(serving.at("scored_rows").get<int>(), 2 * kClients * kRequests);
  EXPECT_LT(serving.at("batches").get<int>(), kClients * kRequests);

}

TEST_F(ServeTest, OverloadIsRefusedWith503NotACrash) {
  // Room for one request's rows: concurrent requests beyond it are refused, never dropped.
  Start("50", "2");
  const std::string body = nlohmann::json{{"rows", RawRows(2)}}.dump();
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&] {
      httplib::Client client = Client();
      for (int r = 0; r < 5; ++r) {
        auto response = client.Post("/v1/predict", body, "application/json");
        if (response && response->status == 200) {
          ++ok;
        } else if (response && response->status == 503) {
          ++refused;
          EXPECT_EQ(response->get_header_value("Retry-After"), "1");
        } else {
          ++other;
          ADD_FAILURE() << (response ? "status " + std::to_string(response->status) + ": " +
                                           response->body
                                     : "no response: " + httplib::to_string(response.error()));
        }
      }
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(refused.load(), 0);
  EXPECT_EQ(other.load(), 0);
  auto health = Client().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const auto serving = nlohmann::json::parse(Client().Get("/v1/metadata")->body).at("serving");
  EXPECT_EQ(serving.at("overloaded_requests").get<int>(), refused.load());
}

TEST_F(ServeTest, SigtermAnswersTheRequestsInFlightThenExits) {
  // A lone request waits 400 ms for others to share its batch: SIGTERM lands while it waits.
  Start("400");
  const std::string body = nlohmann::json{{"rows", RawRows(2)}}.dump();
  std::atomic<int> status{0};
  std::thread in_flight([&] {
    auto response = Predict(body);
    status = response ? response->status : -1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  server_->Signal(SIGTERM);
  in_flight.join();
  EXPECT_EQ(status.load(), 200);
  EXPECT_EQ(server_->Wait(), 0) << server_->err();
  EXPECT_NE(server_->out().find("serve: stopped"), std::string::npos);
  // And it no longer listens.
  EXPECT_FALSE(Client().Get("/healthz"));
}

}  // namespace
