// A trial under its supervisor (tune/trial_process.h): the command's exit status comes back,
// and when the supervisor is killed from outside, Poll ends what the command left running
// before it reaps the supervisor (so the group id it kills cannot be another's yet).
#include "aiok/tune/trial_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace aiok::tune {
namespace {
namespace fs = std::filesystem;

class TrialProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_trial_process_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Polls until the trial has ended (each step sleeps; the bound only stops a hung test).
  static ExitStatus Wait(TrialProcess& trial) {
    for (int i = 0; i < 6000; ++i) {
      if (const auto status = trial.Poll())
        return *status;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "the trial did not end within 30 s";
    return {};
  }

  // Whether a process of group `group` still exists. Killed members are orphans that init
  // reaps after they die (a zombie still counts), so wait up to 5 s for that.
  static bool GroupExists(pid_t group) {
    for (int i = 0; i < 1000; ++i) {
      if (::kill(-group, 0) != 0 && errno == ESRCH)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  fs::path dir_;
};

TEST_F(TrialProcessTest, PassesTheCommandsExitStatusUp) {
  TrialProcess trial({"/bin/sh", "-c", "echo ran; exit 3"}, (dir_ / "log.txt").string());
  const ExitStatus status = Wait(trial);
  EXPECT_EQ(status.code, 3);
  EXPECT_EQ(status.signal, 0);
  EXPECT_EQ(LastLine((dir_ / "log.txt").string()), "ran");
  EXPECT_FALSE(GroupExists(trial.group()));
  EXPECT_EQ(trial.Poll(), std::nullopt) << "reported once";
}

TEST_F(TrialProcessTest, ASupervisorKilledFromOutsideLeavesNoProcessOfItsGroup) {
  // The command starts a child that would outlive it, and says when both run.
  const std::string ready = (dir_ / "ready").string();
  TrialProcess trial({"/bin/sh", "-c", "sleep 300 & touch '" + ready + "'; wait"},
                     (dir_ / "log.txt").string());
  for (int i = 0; i < 6000 && !fs::exists(ready); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fs::exists(ready));
  ASSERT_EQ(::kill(trial.group(), SIGKILL), 0);  // the supervisor alone
  Wait(trial);
  EXPECT_FALSE(GroupExists(trial.group())) << "the command or its sleep runs on";
}

}  // namespace
}  // namespace aiok::tune
