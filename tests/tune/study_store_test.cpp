#include "aiok/tune/study_store.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "aiok/core/error.h"

namespace aiok::tune {
namespace {
namespace fs = std::filesystem;

class StudyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aiok_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Db() const { return (dir_ / "study.db").string(); }
  StudyDefinition Definition(const std::string& target = "model:dlrm") {
    StudyDefinition d;
    d.target = target;
    d.objectives = {"auc:max"};
    d.space = {{"lr", {{"low", 0.01}, {"high", 0.1}}}};
    return d;
  }
  fs::path dir_;
};

TEST_F(StudyStoreTest, TrialsAreNumberedUniqueAndBounded) {
  StudyStore store(Db());
  store.OpenStudy(Definition());
  const int64_t w = store.RegisterWorker();
  TrialRecord t;
  EXPECT_EQ(store.AddRunningTrial({{"lr", 0.02}}, "a", 2, w, &t), StudyStore::AddResult::kAdded);
  EXPECT_EQ(t.number, 0);
  EXPECT_EQ(store.AddRunningTrial({{"lr", 0.02}}, "a", 2, w, &t),
            StudyStore::AddResult::kDuplicate);
  EXPECT_EQ(store.AddRunningTrial({{"lr", 0.03}}, "b", 2, w, &t), StudyStore::AddResult::kAdded);
  EXPECT_EQ(t.number, 1);
  EXPECT_EQ(store.AddRunningTrial({{"lr", 0.04}}, "c", 2, w, &t), StudyStore::AddResult::kFull);
  store.AddReport(t.id, {100, 0.5, {{"auc", 0.7}}});
  EXPECT_TRUE(store.FinishTrial(t.id, w, TrialState::kComplete, {{"auc", 0.75}}, {0.75}, 0.0, ""));
  // Not this worker's any more: refused.
  EXPECT_FALSE(store.FinishTrial(t.id, w, TrialState::kFailed, {}, {}, 0.0, ""));
  const auto trials = store.Trials(true);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[1].state, TrialState::kComplete);
  EXPECT_EQ(trials[1].values, std::vector<double>{0.75});
  ASSERT_EQ(trials[1].reports.size(), 1u);
  EXPECT_EQ(trials[1].reports[0].step, 100);
  EXPECT_EQ(trials[1].params["lr"], 0.03);
}

TEST_F(StudyStoreTest, ASilentWorkersTrialsArePreemptedAndClaimedAgain) {
  StudyStore store(Db());
  store.OpenStudy(Definition());
  const int64_t dead = store.RegisterWorker();
  TrialRecord t;
  ASSERT_EQ(store.AddRunningTrial({{"lr", 0.02}}, "a", 5, dead, &t),
            StudyStore::AddResult::kAdded);
  store.AddReport(t.id, {1, 0.1, {{"auc", 0.6}}});
  // Its own caller never reaps it; another one does once it is silent.
  EXPECT_EQ(store.ReapStale(-1.0, dead), 0);
  const int64_t alive = store.RegisterWorker();
  EXPECT_EQ(store.ReapStale(3600.0, alive), 0);  // beating recently, and its pid is ours
  EXPECT_EQ(store.ReapStale(-1.0, alive), 1);
  auto trials = store.Trials(true);
  EXPECT_EQ(trials[0].state, TrialState::kPreempted);
  EXPECT_TRUE(trials[0].reports.empty());  // the rerun reports from the start
  const auto claimed = store.ClaimPreempted(alive);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->number, 0);
  EXPECT_EQ(claimed->attempts, 2);
  EXPECT_FALSE(store.ClaimPreempted(alive).has_value());
  EXPECT_TRUE(store.FinishTrial(t.id, alive, TrialState::kComplete, {{"auc", 0.7}}, {0.7}, 0, ""));
}

TEST_F(StudyStoreTest, AStudyOfAnotherTargetIsRefused) {
  {
    StudyStore store(Db());
    store.OpenStudy(Definition("model:dlrm"));
  }
  StudyStore store(Db());
  try {
    store.OpenStudy(Definition("model:wnd"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("is a study of model:dlrm"), std::string::npos);
  }
  // The same target reopens, even with another space.
  StudyDefinition d = Definition("model:dlrm");
  d.space = {{"lr", {{"low", 0.02}, {"high", 0.1}}}};
  EXPECT_NO_THROW(store.OpenStudy(d));
  EXPECT_EQ(store.LoadStudy().space, d.space);
}

TEST_F(StudyStoreTest, AFileThatIsNotADatabaseIsAnIoError) {
  { std::ofstream(Db()) << "not a database at all, just text that is long enough to matter"; }
  try {
    StudyStore store(Db());
    store.OpenStudy(Definition());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
  }
}

}  // namespace
}  // namespace aiok::tune
