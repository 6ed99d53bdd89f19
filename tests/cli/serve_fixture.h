// A fixture for tests of `aiok serve` started as a user starts it: a bundle from `aiok run`
// and a server on a free loopback port.
//
// CTest runs every test case in a process of its own, so the bundle is made once per build of
// the aiok binary, under the build tree, and shared: the first process runs `aiok run` under a
// file lock, the others rerun it there and find every stage already done (well under a second
// instead of a whole run each).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/file.h>
#include <unistd.h>

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
    // One run per aiok binary: a rebuilt binary makes a new bundle.
    const fs::path binary(AIOK_BINARY);
    const auto stamp = fs::last_write_time(binary).time_since_epoch().count();
    const fs::path cache = binary.parent_path() / "test_cache";
    fs::create_directories(cache);
    run_dir_ = new fs::path(cache / ("serve_run_" + std::to_string(stamp)));
    const int lock = ::open((cache / "serve_run.lock").c_str(), O_CREAT | O_RDWR, 0644);
    if (lock >= 0)
      ::flock(lock, LOCK_EX);
    const int code = RunAiok({"run", "--rows", "20000", "--out", run_dir_->string(), "-q"},
                             (*root_ / "run.out").string(), (*root_ / "run.err").string());
    if (lock >= 0)
      ::close(lock);  // releases the lock
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
    delete run_dir_;
  }
  void TearDown() override { server_.reset(); }

  static std::string BundleDir() { return (*run_dir_ / "bundle").string(); }

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
    std::ifstream in(*run_dir_ / "data" / "train.txt");
    std::vector<std::string> rows;
    for (std::string line; rows.size() < static_cast<size_t>(n) && std::getline(in, line);)
      rows.push_back(line.substr(line.find('\t') + 1));
    return rows;
  }

  static inline std::filesystem::path* root_ = nullptr;
  static inline std::filesystem::path* run_dir_ = nullptr;  ///< the shared `aiok run`
  static inline std::string bundle_error_;  ///< why the bundle could not be made ("" if made)
  std::unique_ptr<AiokProcess> server_;
  int port_ = 0;
};

}  // namespace aiok::testing
