// A fixture for tests of `aiok serve` started as a user starts it: a bundle from `aiok run`
// (built once per test binary process) and a server on a free loopback port.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "process.h"

namespace aiok::testing {

class ServeFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    namespace fs = std::filesystem;
    root_ = new fs::path(fs::temp_directory_path() / ("aiok_serve_" + std::to_string(getpid())));
    fs::create_directories(*root_);
    const int code = RunAiok({"run", "--rows", "20000", "--out", (*root_ / "run").string(), "-q"},
                             (*root_ / "run.out").string(), (*root_ / "run.err").string());
    // Not an ASSERT here: a fatal failure in SetUpTestSuite makes GoogleTest skip every test,
    // and CTest counts skipped tests as passed. StartServer fails each test instead.
    if (code != 0) {
      bundle_error_ = "`aiok run` for the test bundle exited with " + std::to_string(code) +
                      ": " + SlurpFile((*root_ / "run.err").string());
    }
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
  }
  void TearDown() override { server_.reset(); }

  static std::string BundleDir() { return (*root_ / "run" / "bundle").string(); }

  /// Starts `aiok serve --model BUNDLE --port 0 ARGS...` and waits for its port.
  void StartServer(const std::vector<std::string>& args) {
    ASSERT_TRUE(bundle_error_.empty()) << bundle_error_;
    server_.reset();
    std::vector<std::string> all = {"serve", "--model", BundleDir(), "--port", "0"};
    all.insert(all.end(), args.begin(), args.end());
    server_ = std::make_unique<AiokProcess>(all, (*root_ / "serve.out").string(),
                                            (*root_ / "serve.err").string());
    ASSERT_TRUE(server_->started());
    port_ = WaitForPort(*server_);
    ASSERT_GT(port_, 0) << server_->err();
  }

  /// The port a starting server announces on stdout, or 0 if it exits or takes over 60 s.
  static int WaitForPort(AiokProcess& server) {
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    std::smatch match;
    std::string out;
    if (!server.WaitFor(
            [&] {
              out = server.out();
              return std::regex_search(out, match, listening);
            },
            std::chrono::seconds(60)))
      return 0;
    return std::stoi(match[1]);
  }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30, 0);
    return client;
  }
  httplib::Result Predict(const std::string& body) const {
    return Client().Post("/v1/predict", body, "application/json");
  }
  /// The first `n` lines of the run's data without the label: what a request may send.
  static std::vector<std::string> RawRows(int n) {
    std::ifstream in(*root_ / "run" / "data" / "train.txt");
    std::vector<std::string> rows;
    for (std::string line; rows.size() < static_cast<size_t>(n) && std::getline(in, line);)
      rows.push_back(line.substr(line.find('\t') + 1));
    return rows;
  }

  static inline std::filesystem::path* root_ = nullptr;
  static inline std::string bundle_error_;  ///< why the bundle could not be made ("" if made)
  std::unique_ptr<AiokProcess> server_;
  int port_ = 0;
};

}  // namespace aiok::testing
