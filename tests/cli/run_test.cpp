// `aiok run` end to end as a user runs it: the outputs, skipping unchanged stages on a rerun,
// rerunning only what a config change touches, and resuming an interrupted training.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "process.h"

namespace {
namespace fs = std::filesystem;
using aiok::testing::AiokProcess;
using aiok::testing::SlurpFile;

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_run_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "run");
    return aiok::testing::RunAiok(args, (dir_ / "out").string(), (dir_ / "err").string());
  }
  std::string err() const { return SlurpFile((dir_ / "err").string()); }
  nlohmann::json Report(const std::string& run) const {
    return nlohmann::json::parse(SlurpFile((dir_ / run / "report.json").string()));
  }
  // Stage name -> status in the last report of `run`.
  std::map<std::string, std::string> Statuses(const std::string& run) const {
    std::map<std::string, std::string> statuses;
    const nlohmann::json report = Report(run);  // the loop must not outlive it
    for (const auto& stage : report.at("stages"))
      statuses[stage.at("name")] = stage.at("status");
    return statuses;
  }
  void WriteConfig(const std::string& name, const std::string& yaml) const {
    std::ofstream((dir_ / name).string()) << yaml;
  }

  void CheckInterruptedRunEndsLikeAWholeOne(const std::string& yaml);

  fs::path dir_;
};

TEST_F(RunTest, WritesABundleAndAReportAndSkipsUnchangedStages) {
  const std::string out = (dir_ / "r").string();
  ASSERT_EQ(Run({"--rows", "20000", "--out", out}), 0) << err();
  for (const char* file : {"run.yaml", "run_state.json", "report.md", "report.json",
                           "evaluation.json", "bundle/bundle.json", "bundle/model.pt",
                           "bundle/pipeline.json", "dataset/schema.json", "data/train.txt"}) {
    EXPECT_TRUE(fs::exists(dir_ / "r" / file)) << file;
  }
  const std::map<std::string, std::string> all_ran = {
      {"datagen", "ran"}, {"etl", "ran"}, {"train", "ran"}, {"bundle", "ran"}, {"evaluate", "ran"}};
  EXPECT_EQ(Statuses("r"), all_ran);
  const nlohmann::json report = Report("r");
  // The bundle scores the raw test rows as the trainer scored the test shards.
  EXPECT_NEAR(report.at("evaluation").at("auc").get<double>(),
              report.at("train").at("test").at("auc").get<double>(), 1e-6);
  EXPECT_GT(report.at("train").at("test").at("bayes_auc").get<double>(),
            report.at("train").at("test").at("auc").get<double>());
  const std::string md = SlurpFile((dir_ / "r" / "report.md").string());
  for (const char* part : {"## Data", "## Stages", "## Training", "## Metrics", "Bayes-optimal",
                           "aiok predict --model", "aiok serve --model"}) {
    EXPECT_NE(md.find(part), std::string::npos) << part;
  }

  // Unchanged: every stage skipped, with flags or with the saved config.
  ASSERT_EQ(Run({"--rows", "20000", "--out", out}), 0) << err();
  const std::map<std::string, std::string> all_skipped = {{"datagen", "skipped"},
                                                          {"etl", "skipped"},
                                                          {"train", "skipped"},
                                                          {"bundle", "skipped"},
                                                          {"evaluate", "skipped"}};
  EXPECT_EQ(Statuses("r"), all_skipped);
  ASSERT_EQ(Run({"--config", out + "/run.yaml", "--out", out}), 0) << err();
  EXPECT_EQ(Statuses("r"), all_skipped);

  // A training change reruns training and what follows it, not the data stages.
  WriteConfig("epochs.yaml", "data: {synthetic: {rows: 20000}}\ntrain: {epochs: 2}\n");
  ASSERT_EQ(Run({"--config", (dir_ / "epochs.yaml").string(), "--out", out}), 0) << err();
  const std::map<std::string, std::string> retrained = {{"datagen", "skipped"},
                                                        {"etl", "skipped"},
                                                        {"train", "ran"},
                                                        {"bundle", "ran"},
                                                        {"evaluate", "ran"}};
  EXPECT_EQ(Statuses("r"), retrained);
  EXPECT_EQ(Report("r").at("config").at("train").at("epochs"), 2);
}

// Runs `yaml` whole, then again interrupted by SIGINT after its first checkpoint and rerun:
// the resumed run must end with the whole run's steps and test metrics, exactly.
void RunTest::CheckInterruptedRunEndsLikeAWholeOne(const std::string& yaml) {
  WriteConfig("run.yaml", yaml);
  const std::string config = (dir_ / "run.yaml").string();
  ASSERT_EQ(Run({"--config", config, "--out", (dir_ / "whole").string()}), 0) << err();

  const std::string out = (dir_ / "cut").string();
  {
    AiokProcess run({"run", "--config", config, "--out", out}, (dir_ / "cut.out").string(),
                    (dir_ / "cut.err").string());
    ASSERT_TRUE(run.WaitFor([&] { return fs::exists(out + "/model/checkpoint/position.json"); },
                            std::chrono::seconds(120)));
    run.Signal(SIGINT);
    ASSERT_EQ(run.Wait(), 130) << run.err();
  }
  EXPECT_FALSE(fs::exists(out + "/model/metrics.json"));
  ASSERT_EQ(Run({"--config", config, "--out", out}), 0) << err();
  EXPECT_EQ(Statuses("cut").at("train"), "resumed");
  EXPECT_NE(err().find("resuming"), std::string::npos);
  const nlohmann::json whole = Report("whole").at("train");
  const nlohmann::json cut = Report("cut").at("train");
  EXPECT_EQ(cut.at("train").at("steps"), whole.at("train").at("steps"));
  EXPECT_EQ(cut.at("test").at("auc"), whole.at("test").at("auc"));
  EXPECT_EQ(cut.at("test").at("logloss"), whole.at("test").at("logloss"));
  // The bundle scores the raw test rows as the trainer scored the test shards.
  EXPECT_NEAR(Report("cut").at("evaluation").at("auc").get<double>(),
              cut.at("test").at("auc").get<double>(), 1e-6);
}

TEST_F(RunTest, AnInterruptedTrainingResumesAndEndsLikeAnUninterruptedRun) {
  // Small batches and frequent checkpoints: a few hundred steps to interrupt.
  CheckInterruptedRunEndsLikeAWholeOne(
      "data: {synthetic: {rows: 20000, card-scale: 0.001}}\n"
      "train: {preset: dlrm-tiny, batch-size: 64, checkpoint-every: 10, eval-every: 0, "
      "precision: fp32}\n");
}

TEST_F(RunTest, WideAndDeepRunsEndToEndAndResumesLikeAnUninterruptedRun) {
  // Wide&Deep with a wide cross and FTRL (the wide part's optimizer state is checkpointed too).
  CheckInterruptedRunEndsLikeAWholeOne(
      "data: {synthetic: {rows: 20000, card-scale: 0.001}}\n"
      "train: {model: wnd, preset: wnd-small, mlp: 32-16, crosses: \"C1:C2\", batch-size: 64, "
      "checkpoint-every: 10, eval-every: 0, precision: fp32}\n");
  const nlohmann::json report = Report("whole");
  EXPECT_EQ(report.at("config").at("train").at("model"), "wnd");
  EXPECT_EQ(report.at("train").at("architecture").at("crosses").at(0).at("name"), "C1:C2");
  EXPECT_GT(report.at("train").at("test").at("auc").get<double>(), 0.6);
}

TEST_F(RunTest, RefusesADirectoryThatIsNotARunAndABadConfig) {
  fs::create_directories(dir_ / "other");
  std::ofstream((dir_ / "other" / "notes.txt").string()) << "mine";
  EXPECT_EQ(Run({"--rows", "20000", "--out", (dir_ / "other").string()}), 1);
  EXPECT_NE(err().find("not an aiok run directory"), std::string::npos) << err();
  EXPECT_TRUE(fs::exists(dir_ / "other" / "notes.txt"));

  WriteConfig("bad.yaml", "train: {epochz: 2}\n");
  EXPECT_EQ(Run({"--config", (dir_ / "bad.yaml").string(), "--out", (dir_ / "x").string()}), 2);
  EXPECT_NE(err().find("unknown key 'epochz'"), std::string::npos) << err();
}

}  // namespace
