// `aiok run` end to end as a user runs it: the outputs, skipping unchanged stages on a rerun,
// rerunning only what a config change touches, and resuming an interrupted training.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "process.h"

namespace {
namespace fs = std::filesystem;
using aiok::testing::AiokProcess;
using aiok::testing::SlurpFile;

// An HTML report as tests/cli/report_html.py (Python's html.parser) reads it: tag errors, and
// each chart's points and bars from their data-x/data-y. `page` is a file or a browser's DOM.
nlohmann::json ParsePage(const std::string& page, const std::string& json_out) {
  const std::string command = "/usr/bin/python3 " AIOK_SOURCE_DIR "/tests/cli/report_html.py '" +
                              page + "' > '" + json_out + "'";
  if (std::system(command.c_str()) != 0)
    return nlohmann::json();
  return nlohmann::json::parse(SlurpFile(json_out), nullptr, false);
}

// The headless browser, or "" when none is installed (Debian's package: chromium).
std::string FindChromium() {
  for (const char* name : {"chromium", "chromium-browser"})
    if (std::system(("command -v " + std::string(name) + " >/dev/null 2>&1").c_str()) == 0)
      return name;
  return "";
}

// The deciles of `p` in increasing order, as the run's evaluation bins them: per bin, the mean
// prediction and the observed rate of `labels`.
std::vector<std::pair<double, double>> Deciles(const std::vector<double>& p,
                                               const std::vector<int>& labels) {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<std::pair<double, double>> bins;
  for (size_t bin = 0; bin < 10; ++bin) {
    const size_t begin = order.size() * bin / 10, end = order.size() * (bin + 1) / 10;
    double predicted = 0, observed = 0;
    for (size_t i = begin; i < end; ++i) {
      predicted += p[order[i]];
      observed += labels[order[i]];
    }
    bins.emplace_back(predicted / static_cast<double>(end - begin),
                      observed / static_cast<double>(end - begin));
  }
  return bins;
}

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aiok_run_" + std::to_string(getpid()) + "_" +
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
  void CheckReportPage(const std::string& run);
  void CheckInChromium(const std::string& chromium, const std::string& page,
                       const std::vector<std::string>& charts);

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
  CheckReportPage("r");

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

// report.html of `run` parses, and its charts hold the run's numbers: the validation curve's
// points, one bar per stage, the AUC bars, and a reliability diagram whose points are the
// deciles of the bundle's own predictions on the test rows (from aiok predict, independently
// of the run's evaluation).
void RunTest::CheckReportPage(const std::string& run) {
  const fs::path out = dir_ / run;
  const nlohmann::json page =
      ParsePage((out / "report.html").string(), (dir_ / "page.json").string());
  ASSERT_TRUE(page.is_object()) << "report_html.py failed";
  EXPECT_EQ(page.at("errors"), nlohmann::json::array()) << page.at("errors").dump();
  const nlohmann::json& charts = page.at("charts");
  for (const char* id : {"curve", "reliability", "stages", "auc"})
    ASSERT_TRUE(charts.contains(id)) << id << " missing: " << charts.dump();
  const nlohmann::json report = Report(run);
  const nlohmann::json& curve = report.at("train").at("curve");
  ASSERT_EQ(charts["curve"]["points"].size(), curve.size());
  for (size_t i = 0; i < curve.size(); ++i) {
    EXPECT_EQ(charts["curve"]["points"][i][0].get<double>(), curve[i].at("step").get<double>());
    EXPECT_EQ(charts["curve"]["points"][i][1].get<double>(),
              curve[i].at("valid_auc").get<double>());
  }
  ASSERT_EQ(charts["stages"]["bars"].size(), report.at("stages").size());
  for (size_t i = 0; i < report.at("stages").size(); ++i)
    EXPECT_EQ(charts["stages"]["bars"][i][1].get<double>(),
              report.at("stages")[i].at("seconds_when_run").get<double>());
  ASSERT_EQ(charts["auc"]["bars"].size(), 3u);
  EXPECT_EQ(charts["auc"]["bars"][1][1].get<double>(),
            report.at("train").at("test").at("auc").get<double>());

  // The test split's raw lines, scored by the bundle the way a user scores them.
  const nlohmann::json schema =
      nlohmann::json::parse(SlurpFile((out / "dataset/schema.json").string()));
  const int64_t begin = schema.at("splits").at("test").at("source_lines")[0];
  const int64_t end = schema.at("splits").at("test").at("source_lines")[1];
  std::ifstream raw((out / "data/train.txt").string());
  std::ofstream rows((dir_ / "test_rows.tsv").string());
  std::vector<int> labels;
  std::string line;
  for (int64_t n = 0; std::getline(raw, line) && n < end; ++n) {
    if (n < begin)
      continue;
    labels.push_back(std::stoi(line.substr(0, line.find('\t'))));
    rows << line << "\n";
  }
  rows.close();
  ASSERT_EQ(
      aiok::testing::RunAiok(
          {"predict", "--model", (out / "bundle").string(), "--input",
           (dir_ / "test_rows.tsv").string(), "--out", (dir_ / "predictions.txt").string(), "-q"},
          (dir_ / "predict.out").string(), (dir_ / "predict.err").string()),
      0)
      << SlurpFile((dir_ / "predict.err").string());
  std::vector<double> p;
  std::istringstream predictions(SlurpFile((dir_ / "predictions.txt").string()));
  for (double v; predictions >> v;)
    p.push_back(v);
  ASSERT_EQ(p.size(), labels.size());
  const auto deciles = Deciles(p, labels);
  const nlohmann::json& points = charts["reliability"]["points"];
  ASSERT_EQ(points.size(), deciles.size());
  for (size_t b = 0; b < deciles.size(); ++b) {
    EXPECT_NEAR(points[b][0].get<double>(), deciles[b].first, 1e-5) << "decile " << b + 1;
    // Equal predictions may fall on either side of a decile's edge: one row's worth.
    EXPECT_NEAR(points[b][1].get<double>(), deciles[b].second, 1.01 * 10.0 / p.size())
        << "decile " << b + 1;
  }
}

// `page` in headless Chromium: it loads without a console message (an error, or a resource
// it tried to fetch), the DOM the browser built holds each of `charts` with the points and
// bars of the file, and a screenshot shows coloured marks.
void RunTest::CheckInChromium(const std::string& chromium, const std::string& page,
                              const std::vector<std::string>& charts) {
  SCOPED_TRACE(page);
  const std::string profile = (dir_ / "chromium-profile").string();
  const std::string flags =
      " --headless --no-sandbox --disable-gpu --no-first-run "
      "--hide-scrollbars --user-data-dir='" +
      profile + "' ";
  const std::string url = "'file://" + page + "'";
  const std::string dom = (dir_ / "dom.html").string(), log = (dir_ / "chromium.log").string();
  ASSERT_EQ(std::system(("timeout 120 " + chromium + flags +
                         "--enable-logging=stderr --v=0 "
                         "--dump-dom " +
                         url + " > '" + dom + "' 2> '" + log + "'")
                            .c_str()),
            0)
      << SlurpFile(log);
  std::istringstream lines(SlurpFile(log));
  for (std::string line; std::getline(lines, line);)
    EXPECT_EQ(line.find(":CONSOLE"), std::string::npos) << line;

  const nlohmann::json file = ParsePage(page, (dir_ / "file.json").string());
  const nlohmann::json drawn = ParsePage(dom, (dir_ / "dom.json").string());
  ASSERT_TRUE(file.is_object() && drawn.is_object());
  EXPECT_EQ(drawn.at("errors"), nlohmann::json::array()) << drawn.at("errors").dump();
  for (const std::string& id : charts) {
    ASSERT_TRUE(drawn.at("charts").contains(id)) << "the browser's DOM has no chart " << id;
    const nlohmann::json& marks = drawn.at("charts").at(id);
    EXPECT_GT(marks.at("points").size() + marks.at("bars").size(), 0u) << id;
    EXPECT_EQ(marks, file.at("charts").at(id)) << id;
  }

  const std::string shot = (dir_ / "shot.png").string();
  ASSERT_EQ(std::system(("timeout 120 " + chromium + flags +
                         "--window-size=1350,2400 "
                         "--screenshot='" +
                         shot + "' " + url + " > '" + log + "' 2>&1")
                            .c_str()),
            0)
      << SlurpFile(log);
  const std::string stats_file = (dir_ / "shot.json").string();
  ASSERT_EQ(std::system(("/usr/bin/python3 " AIOK_SOURCE_DIR "/tests/cli/png_stats.py '" + shot +
                         "' > '" + stats_file + "'")
                            .c_str()),
            0);
  const nlohmann::json stats = nlohmann::json::parse(SlurpFile(stats_file));
  EXPECT_EQ(stats.at("width"), 1350);
  // Points, lines and bars in colour: hundreds of pixels per chart; text and frames are grey.
  EXPECT_GT(stats.at("coloured").get<int64_t>(), 300 * static_cast<int64_t>(charts.size()))
      << stats.dump();
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

TEST_F(RunTest, DienRunsEndToEndAndResumesLikeAnUninterruptedRun) {
  // DIEN on a behaviour log: the GRU, AUGRU and Dice state and the auxiliary loss's sampled
  // negatives resume exactly, and the bundle's own engine scores the raw test rows (histories
  // as list text) as the trainer scored the test shards.
  CheckInterruptedRunEndsLikeAWholeOne(
      "data: {generator: sequences, synthetic: {users: 400, events-per-user: 30}}\n"
      "train: {model: dien, preset: dien-small, batch-size: 64, checkpoint-every: 10, "
      "eval-every: 0, precision: fp32}\n");
  const nlohmann::json report = Report("whole");
  EXPECT_EQ(report.at("config").at("train").at("model"), "dien");
  // Above chance (0.544 here; the test split's ~1.7k rows put chance within +-0.03 of 0.5 at
  // two standard errors): the model learns from the log, not only that it runs.
  EXPECT_GT(report.at("train").at("test").at("auc").get<double>(), 0.53);
}

// --ranks 2: the train stage runs as mpirun -np 2 aiok train at the same global batch, so it
// ends with the one-process run's model up to float rounding; the rank count is not part of
// the training's stage key. Skipped, saying why, when mpirun cannot start two ranks here.
TEST_F(RunTest, TwoRanksTrainTheModelOneProcessTrains) {
  if (std::system("mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl "
                  "self,vader,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo -np 2 "
                  "true >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "mpirun cannot start 2 ranks here (openmpi-bin; scripts/setup.sh installs it)";
  WriteConfig("small.yaml",
              "data: {synthetic: {rows: 20000, card-scale: 0.001}}\n"
              "train: {preset: dlrm-tiny, batch-size: 512, precision: fp32}\n");
  const std::string config = (dir_ / "small.yaml").string();
  ASSERT_EQ(Run({"--config", config, "--out", (dir_ / "one").string()}), 0) << err();
  const std::string two = (dir_ / "two").string();
  ASSERT_EQ(Run({"--config", config, "--ranks", "2", "--out", two}), 0) << err();
  EXPECT_NE(err().find("training on 2 ranks: mpirun"), std::string::npos) << err();
  EXPECT_TRUE(fs::exists(two + "/bundle/bundle.json"));
  const nlohmann::json one_report = Report("one");
  const nlohmann::json two_report = Report("two");
  EXPECT_EQ(one_report.at("train").at("train").at("ranks"), 1);
  EXPECT_EQ(two_report.at("train").at("train").at("ranks"), 2);
  EXPECT_EQ(two_report.at("config").at("ranks"), 2);
  EXPECT_NE(SlurpFile(two + "/report.md").find("data-parallel on 2 ranks"), std::string::npos);
  EXPECT_EQ(two_report.at("train").at("train").at("steps"),
            one_report.at("train").at("train").at("steps"));
  EXPECT_NEAR(two_report.at("train").at("test").at("auc").get<double>(),
              one_report.at("train").at("test").at("auc").get<double>(), 0.001);
  // The bundle holds rank 0's model: it scores the raw test rows as the trainer did.
  EXPECT_NEAR(two_report.at("evaluation").at("auc").get<double>(),
              two_report.at("train").at("test").at("auc").get<double>(), 1e-6);

  // The same run on one rank keeps the two-rank model: equal results, the same stage key.
  ASSERT_EQ(Run({"--config", config, "--out", two}), 0) << err();
  EXPECT_EQ(Statuses("two").at("train"), "skipped");
}

// --tune: a tuning stage between ETL and training. The final training takes the chosen
// trial's values; a rerun skips every stage; more trials continue the same study.
TEST_F(RunTest, TuneStageChoosesTheFinalTrainingsValues) {
  WriteConfig("tune.yaml",
              "data: {synthetic: {rows: 8000, card-scale: 0.001}}\n"
              "train: {max-steps: 24, precision: fp32}\n"
              "tune: {objectives: \"auc:max,train_seconds:min\", reports: 2, sampler: random}\n");
  const std::string config = (dir_ / "tune.yaml").string();
  const std::string out = (dir_ / "t").string();
  ASSERT_EQ(Run({"--config", config, "--tune", "3", "--out", out}), 0) << err();
  const std::map<std::string, std::string> ran = {{"datagen", "ran"}, {"etl", "ran"},
                                                  {"tune", "ran"},    {"train", "ran"},
                                                  {"bundle", "ran"},  {"evaluate", "ran"}};
  EXPECT_EQ(Statuses("t"), ran);
  const nlohmann::json tune = Report("t").at("tune");
  EXPECT_EQ(tune.at("study").get<std::string>(), fs::absolute(out + "/tune/study.db").string());
  EXPECT_TRUE(fs::exists(out + "/tune/study.db"));
  int64_t trials = 0;
  for (const auto& [state, count] : tune.at("trials").items())
    trials += count.get<int64_t>();
  EXPECT_EQ(trials, 3);
  const nlohmann::json chosen = tune.at("chosen");
  EXPECT_GE(chosen.at("trial").get<int64_t>(), 0);
  EXPECT_LT(chosen.at("trial").get<int64_t>(), 3);
  // The run's own settings reach every trial; its fixed values are not tuned.
  EXPECT_EQ(tune.at("fixed").at("max-steps"), 24);
  // The training ran with the chosen values (its stage key holds what it was given).
  const nlohmann::json state = nlohmann::json::parse(SlurpFile(out + "/run_state.json"));
  const nlohmann::json& trained = state.at("stages").at("train").at("key").at("train");
  ASSERT_FALSE(chosen.at("options").empty());
  for (const auto& [key, value] : chosen.at("options").items())
    EXPECT_EQ(trained.at(key), value) << key;
  EXPECT_EQ(trained.at("max-steps"), 24);
  const std::string md = SlurpFile(out + "/report.md");
  EXPECT_NE(md.find("## Tuning"), std::string::npos);
  EXPECT_NE(md.find("chosen: trial " + std::to_string(chosen.at("trial").get<int64_t>())),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("the fastest trial whose validation AUC is within 0.001 of the best"),
            std::string::npos)
      << md;

  ASSERT_EQ(Run({"--config", config, "--tune", "3", "--out", out}), 0) << err();
  for (const auto& [stage, status] : Statuses("t"))
    EXPECT_EQ(status, "skipped") << stage;

  // One more trial: the study goes on from its three.
  ASSERT_EQ(Run({"--config", config, "--tune", "4", "--out", out}), 0) << err();
  EXPECT_EQ(Statuses("t").at("tune"), "resumed");
  EXPECT_EQ(Statuses("t").at("etl"), "skipped");
  trials = 0;
  const nlohmann::json resumed = Report("t");  // the loop must not outlive it
  for (const auto& [state, count] : resumed.at("tune").at("trials").items())
    trials += count.get<int64_t>();
  EXPECT_EQ(trials, 4);
}

// What the user set in train: stays fixed under --tune: those keys leave the space, a
// parameter that only applies under another value of one leaves with it (Adam's betas under
// sgd), one that applies under the set value stays (sgd's momentum), and a layer list that
// ends at a fixed width ends at its value.
TEST_F(RunTest, TuneKeepsTheUsersTrainSettingsFixed) {
  WriteConfig("fixed.yaml",
              "data: {synthetic: {rows: 6000, card-scale: 0.001}}\n"
              "train: {max-steps: 16, precision: fp32, lr: 0.05, optimizer: sgd, emb-dim: 8}\n"
              "tune: {reports: 2, sampler: random}\n");
  const std::string out = (dir_ / "f").string();
  ASSERT_EQ(Run({"--config", (dir_ / "fixed.yaml").string(), "--tune", "2", "--out", out}), 0)
      << err();
  const nlohmann::json tune = Report("f").at("tune");
  EXPECT_EQ(tune.at("fixed").at("lr"), 0.05);
  EXPECT_EQ(tune.at("fixed").at("optimizer"), "sgd");
  EXPECT_EQ(tune.at("fixed").at("emb-dim"), 8);
  const nlohmann::json& params = tune.at("chosen").at("params");
  for (const char* key : {"lr", "optimizer", "emb-dim", "beta1", "beta2", "weight-decay"})
    EXPECT_FALSE(params.contains(key)) << key << " was searched: " << params.dump();
  EXPECT_TRUE(params.contains("momentum")) << params.dump();
  const nlohmann::json state = nlohmann::json::parse(SlurpFile(out + "/run_state.json"));
  const nlohmann::json& trained = state.at("stages").at("train").at("key").at("train");
  EXPECT_EQ(trained.at("lr"), 0.05);
  EXPECT_EQ(trained.at("optimizer"), "sgd");
  EXPECT_EQ(trained.at("emb-dim"), 8);
  const std::string bottom = trained.at("mlp-bot").get<std::string>();
  EXPECT_EQ(bottom.substr(bottom.rfind('-') + 1), "8") << bottom;
}

// Both HTML pages, a run's report.html and `aiok tune report`'s, in headless Chromium.
TEST_F(RunTest, ReportPagesLoadInHeadlessChromiumAndDrawEveryChart) {
  const std::string chromium = FindChromium();
  if (chromium.empty())
    GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs Debian's chromium): "
                    "the HTML reports were not checked in a browser";
  WriteConfig("small.yaml",
              "data: {synthetic: {rows: 6000, card-scale: 0.001}}\n"
              "train: {max-steps: 60, eval-every: 15, precision: fp32}\n");
  ASSERT_EQ(Run({"--config", (dir_ / "small.yaml").string(), "--out", (dir_ / "r").string()}), 0)
      << err();
  CheckInChromium(chromium, (dir_ / "r" / "report.html").string(),
                  {"curve", "reliability", "stages", "auc"});

  // A two-objective study of a shell command that reports a curve, for every tune chart.
  WriteConfig("objective.sh", R"sh(#!/bin/sh
x=$1; y=$2; out=$3; curve=$4
for p in 0.5 1.0; do
  awk -v x="$x" -v y="$y" -v p="$p" 'BEGIN { printf "{\"step\": %d, \"progress\": %s, \"f\": %.6f}\n", p * 2, p, ((x-0.3)^2+y^2) / p }' >> "$curve"
done
awk -v x="$x" -v y="$y" 'BEGIN { printf "{\"f\": %.6f, \"g\": %.6f}\n", (x-0.3)^2+y^2, x*x }' > "$out"
)sh");
  WriteConfig("space.yaml", "x: {low: -1.0, high: 1.0}\ny: {low: -1.0, high: 1.0}\n");
  const std::string study = (dir_ / "study.db").string();
  ASSERT_EQ(
      aiok::testing::RunAiok(
          {"tune", "--command",
           "sh " + (dir_ / "objective.sh").string() + " {x} {y} {metrics_file} {curve_file}",
           "--space", (dir_ / "space.yaml").string(), "--objectives", "f:min,g:min", "--trials",
           "8", "--sampler", "random", "--study", study, "--out", (dir_ / "trials").string(), "-q"},
          (dir_ / "out").string(), (dir_ / "err").string()),
      0)
      << err();
  ASSERT_EQ(
      aiok::testing::RunAiok({"tune", "report", study, "--out", (dir_ / "tune.html").string()},
                             (dir_ / "out").string(), (dir_ / "err").string()),
      0)
      << err();
  CheckInChromium(chromium, (dir_ / "tune.html").string(),
                  {"history", "pareto", "curves", "parallel"});
}

// A time split assigns rows by their own time; the evaluate stage reads each raw row's time to
// find the test rows (the ETL's records are gone by then), and rows without a time, which the
// ETL rejected, are in no split.
TEST_F(RunTest, ATimeSplitRunEvaluatesTheBundleOnTheTestRowsByTheirTime) {
  WriteConfig("time.yaml",
              "data: {generator: tabular, synthetic: {rows: 6000}}\n"
              "etl: {split: \"time:ts:0.7,0.15\", on_error: skip}\n"
              "train: {max-steps: 30, precision: fp32}\n");
  const std::string out = (dir_ / "t").string();
  ASSERT_EQ(Run({"--config", (dir_ / "time.yaml").string(), "--out", out}), 0) << err();
  EXPECT_EQ(Statuses("t").at("evaluate"), "ran");
  const nlohmann::json report = Report("t");
  const nlohmann::json dataset =
      nlohmann::json::parse(SlurpFile((dir_ / "t" / "dataset" / "schema.json").string()));
  ASSERT_EQ(dataset.at("split_rule").get<std::string>().rfind("time:ts:", 0), 0u);
  EXPECT_GT(dataset.at("rejected_lines").get<int64_t>(), 0) << "rows without a time";
  const int64_t test_rows = dataset.at("splits").at("test").at("rows").get<int64_t>();
  EXPECT_GT(test_rows, 300);
  EXPECT_EQ(report.at("evaluation").at("rows").get<int64_t>(), test_rows);
  EXPECT_NEAR(report.at("evaluation").at("auc").get<double>(),
              report.at("train").at("test").at("auc").get<double>(), 1e-6);
}

// With prepare steps the splits are over the prepared table's rows (filtered, sorted, sampled
// with a weight), which the dataset keeps; the evaluate stage scores those rows through the
// bundle, which looks up the groupby statistics and computes the sql field itself as serving
// does. Scoring the raw input instead took other rows (or failed on their count).
TEST_F(RunTest, APreparedRunEvaluatesTheBundleOnThePreparedTestRows) {
  std::ofstream((dir_ / "prepare.json").string())
      << R"({"prepare": [{"filter": {"where": "price > 20"}},
                         {"sort": {"by": ["price"], "descending": true}},
                         {"sample": {"negative_rate": 0.5, "label": "y", "seed": 3}},
                         {"groupby_aggregate": {"by": ["city"], "aggs": {"price": ["mean"]}}},
                         {"sql": {"output": "price2", "expr": "price * 2"}}],
            "steps": []})";
  WriteConfig("prepared.yaml",
              "data: {generator: tabular, synthetic: {rows: 4000}}\n"
              "etl: {pipeline: " +
                  (dir_ / "prepare.json").string() +
                  "}\n"
                  "train: {max-steps: 30, precision: fp32}\n");
  const std::string out = (dir_ / "p").string();
  ASSERT_EQ(Run({"--config", (dir_ / "prepared.yaml").string(), "--out", out}), 0) << err();
  EXPECT_EQ(Statuses("p").at("evaluate"), "ran");
  EXPECT_TRUE(fs::exists(dir_ / "p" / "dataset" / "prepared.parquet"));
  const nlohmann::json dataset =
      nlohmann::json::parse(SlurpFile((dir_ / "p" / "dataset" / "schema.json").string()));
  const int64_t test_rows = dataset.at("splits").at("test").at("rows").get<int64_t>();
  EXPECT_GT(test_rows, 100);
  const nlohmann::json report = Report("p");
  EXPECT_EQ(report.at("evaluation").at("rows").get<int64_t>(), test_rows);
  EXPECT_NEAR(report.at("evaluation").at("auc").get<double>(),
              report.at("train").at("test").at("auc").get<double>(), 1e-6);
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

  WriteConfig("bad_tune.yaml", "tune: {trials: 3, objectives: \"f:max\"}\n");
  EXPECT_EQ(Run({"--config", (dir_ / "bad_tune.yaml").string(), "--out", (dir_ / "y").string()}),
            2);
  EXPECT_NE(err().find("'objectives' must be one of auc:max, auc:max,train_seconds:min"),
            std::string::npos)
      << err();
}

}  // namespace
