// Issue 15, defect 3: an input that is not a regular file (a FIFO, a directory, a device) is
// refused at once instead of hanging in open(); a second SIGTERM or SIGINT ends the process.
#include "aiok/core/positional_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>

#include "aiok/core/atomic_file.h"
#include "aiok/core/context.h"
#include "aiok/core/error.h"

namespace aiok {
namespace {
namespace fs = std::filesystem;

class PositionalIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_pio_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    fifo_ = (dir_ / "fifo").string();
    ASSERT_EQ(mkfifo(fifo_.c_str(), 0600), 0);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `open` (which must throw) with a bound on the time: an open() that waits for a
  // writer is released by opening the FIFO's other end, and the test fails.
  void ExpectRefusedAtOnce(const std::function<void()>& open, const std::string& mentions) {
    auto result = std::async(std::launch::async, [&]() -> std::string {
      try {
        open();
      } catch (const Error& e) {
        return e.what();
      }
      return "no error";
    });
    if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      const int writer = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK);
      ADD_FAILURE() << "opening the FIFO blocked";
      result.wait();
      ::close(writer);
      return;
    }
    const std::string message = result.get();
    EXPECT_NE(message.find(mentions), std::string::npos) << message;
  }

  fs::path dir_;
  std::string fifo_;
};

TEST_F(PositionalIoTest, AFifoIsRefusedWithoutWaitingForAWriter) {
  size_t size = 0;
  ExpectRefusedAtOnce([&] { OpenRegularFile(fifo_, &size); }, "is not a regular file (a FIFO)");
  ExpectRefusedAtOnce([&] { ReadOnlyFile file(fifo_); }, "is not a regular file (a FIFO)");
  ExpectRefusedAtOnce([&] { ReadFile(fifo_); }, "is not a regular file (a FIFO)");
  ExpectRefusedAtOnce([&] { CheckRegularFile(fifo_); }, fifo_);
}

TEST_F(PositionalIoTest, DirectoriesAndDevicesAreRefused) {
  size_t size = 0;
  ExpectRefusedAtOnce([&] { OpenRegularFile(dir_.string(), &size); }, "(a directory)");
  ExpectRefusedAtOnce([&] { ReadFile(dir_.string()); }, "(a directory)");
  ExpectRefusedAtOnce([&] { ReadFile("/dev/zero"); }, "(a character device)");
  ExpectRefusedAtOnce([&] { OpenRegularFile("/dev/null", &size); }, "(a character device)");
  ExpectRefusedAtOnce([&] { ReadFile((dir_ / "missing").string()); }, "No such file");
}

TEST_F(PositionalIoTest, RegularFilesAreReadWhole) {
  const std::string path = (dir_ / "a.txt").string();
  std::ofstream(path) << "hello\n";
  EXPECT_EQ(ReadFile(path), "hello\n");
  const ReadOnlyFile file(path);
  char bytes[5] = {};
  file.Read(1, 4, bytes);
  EXPECT_EQ(std::string(bytes, 4), "ello");
  // Files in /proc are regular but say they have 0 bytes: read to the end all the same.
  EXPECT_NE(ReadFile("/proc/self/status").find("Pid:"), std::string::npos);
}

// The death tests run in a child process (fork), so the handlers they install stay there.
using SignalDeathTest = PositionalIoTest;

void SignalTwice(int first, int second) {
  static CancellationToken token;
  CancelOnSignals(&token);
  std::raise(first);
  if (!token.cancelled())
    std::_Exit(3);  // the first signal must only ask for a clean stop
  std::raise(second);
  std::_Exit(0);  // reached only if the second signal did not end the process
}

TEST_F(SignalDeathTest, ASecondSigtermOrSigintEndsTheProcess) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(SignalTwice(SIGTERM, SIGTERM), ::testing::KilledBySignal(SIGTERM), "");
  EXPECT_EXIT(SignalTwice(SIGINT, SIGINT), ::testing::KilledBySignal(SIGINT), "");
  EXPECT_EXIT(SignalTwice(SIGINT, SIGTERM), ::testing::KilledBySignal(SIGTERM), "");
  EXPECT_EXIT(SignalTwice(SIGTERM, SIGINT), ::testing::KilledBySignal(SIGINT), "");
}

}  // namespace
}  // namespace aiok
