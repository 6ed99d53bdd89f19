// aiok tune as a user runs it: --command trials (a shell script), real aiok train trials on a
// tiny dataset, kill -9 of the tune process and of a trial, two tune processes on one study,
// and the bad inputs that must exit with code 2.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "process.h"

namespace aiok::testing {
namespace {
namespace fs = std::filesystem;

// x, y, metrics file, [seconds to sleep], [marker: kill itself with -9 the first time].
// Writes f = (x-0.3)^2 + (y-0.1)^2 and g = x^2, and a curve of three reports.
constexpr const char* kObjective = R"(#!/bin/sh
x=$1; y=$2; out=$3; nap=${4:-0}; marker=$5; curve=$6
if [ -n "$marker" ] && mkdir "$marker" 2>/dev/null; then kill -9 $$; fi
for p in 0.33 0.67 1.0; do
  [ -n "$curve" ] && awk -v x="$x" -v y="$y" -v p="$p" 'BEGIN { printf "{\"step\": %d, \"progress\": %s, \"f\": %.8f}\n", p * 3, p, ((x-0.3)^2+(y-0.1)^2) / p }' >> "$curve"
  [ "$nap" != 0 ] && sleep "$nap"
done
awk -v x="$x" -v y="$y" 'BEGIN { printf "{\"f\": %.8f, \"g\": %.8f}\n", (x-0.3)^2+(y-0.1)^2, x*x }' > "$out"
)";

constexpr const char* kSpace = "x: {low: -1.0, high: 1.0}\ny: {low: -1.0, high: 1.0}\n";

// Live processes (not zombies) for which `match(pid, process group, command line)` holds.
template <typename Match>
std::vector<int> LiveProcesses(Match match) {
  std::vector<int> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const std::string stat = SlurpFile("/proc/" + name + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos)
      continue;  // it ended while we looked
    std::istringstream fields(stat.substr(paren + 1));
    std::string state;
    int ppid = 0, group = 0;
    fields >> state >> ppid >> group;
    std::string cmdline = SlurpFile("/proc/" + name + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (state != "Z" && match(std::stoi(name), group, cmdline))
      out.push_back(std::stoi(name));
  }
  return out;
}

// Waits up to `seconds` for LiveProcesses(match) to be empty; returns what is left.
template <typename Match>
std::vector<int> WaitUntilGone(Match match, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<int> left = LiveProcesses(match);
  while (!left.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = LiveProcesses(match);
  }
  return left;
}

class TuneCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aiok_tune_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Write("objective.sh", kObjective);
    Write("space.yaml", kSpace);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name)) << text;
  }
  std::string Command(const std::string& extra = "0") const {
    return "sh " + Path("objective.sh") + " {x} {y} {metrics_file} " + extra;
  }
  std::vector<std::string> TuneArgs(const std::string& command, int trials,
                                    const std::string& study = "study.db") const {
    return {"tune",
            "--command",
            command,
            "--space",
            Path("space.yaml"),
            "--objectives",
            "f:min",
            "--trials",
            std::to_string(trials),
            "--workers",
            "2",
            "--study",
            Path(study),
            "--out",
            Path("out"),
            "--sampler",
            "tpe",
            "-q"};
  }
  int Run(const std::vector<std::string>& args) {
    return RunAiok(args, Path("stdout.txt"), Path("stderr.txt"));
  }
  std::string Err() const { return SlurpFile(Path("stderr.txt")); }
  std::string Out() const { return SlurpFile(Path("stdout.txt")); }

  // One value from the study database.
  std::string Query(const std::string& sql, const std::string& study = "study.db") const {
    sqlite3* db = nullptr;
    sqlite3_open_v2(Path(study).c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt* stmt = nullptr;
    std::string out = "(error)";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      out = t ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  fs::path dir_;
};

TEST_F(TuneCliTest, ACommandStudyRunsEveryTrialOnceAndReports) {
  ASSERT_EQ(Run(TuneArgs(Command(), 14)), 0) << Err();
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials WHERE state = 'complete'"), "14");
  EXPECT_EQ(Query("SELECT COUNT(DISTINCT param_key) FROM trials"), "14");
  EXPECT_NE(Out().find("sampler tpe (chosen with --sampler)"), std::string::npos) << Out();
  // The best of 14 model-guided trials is close to the optimum f = 0.
  EXPECT_LT(std::stod(Query("SELECT MIN(json_extract(metrics, '$.f')) FROM trials")), 0.1);

  ASSERT_EQ(Run({"tune", "show", Path("study.db")}), 0) << Err();
  EXPECT_NE(Out().find("best trial:"), std::string::npos) << Out();
  EXPECT_NE(Out().find("objective.sh"), std::string::npos) << Out();  // the command to rerun it

  ASSERT_EQ(Run({"tune", "report", Path("study.db"), "--out", Path("report.html")}), 0) << Err();
  const std::string html = SlurpFile(Path("report.html"));
  for (const char* chart : {"id=\"history\"", "id=\"parallel\"", "id=\"importance\""})
    EXPECT_NE(html.find(chart), std::string::npos) << chart;
  EXPECT_GE(std::count(html.begin(), html.end(), '\n'), 20);
  // The parallel-coordinates axes are numbered and named in the legend under the chart.
  EXPECT_NE(html.find("<p class=\"legend\">Axes: <b>1</b>&nbsp;"), std::string::npos);
  ASSERT_EQ(Run({"tune", "report", Path("study.db"), "--out", Path("report.md")}), 0) << Err();
  EXPECT_NE(SlurpFile(Path("report.md")).find("Reproduce trial"), std::string::npos);

  // Rerunning the finished study starts nothing.
  ASSERT_EQ(Run(TuneArgs(Command(), 14)), 0) << Err();
  EXPECT_NE(Out().find("started 0 trials"), std::string::npos) << Out();
}

TEST_F(TuneCliTest, KillNineOfTheTuneProcessThenARerunResumes) {
  const std::string command = Command("0.2");  // each trial takes ~0.6 s
  {
    AiokProcess tune(TuneArgs(command, 10), Path("o1.txt"), Path("e1.txt"));
    ASSERT_TRUE(tune.started());
    ASSERT_TRUE(tune.WaitFor(
        [&] {
          return std::atoi(Query("SELECT COUNT(*) FROM trials WHERE state = 'complete'").c_str()) >=
                 2;
        },
        std::chrono::seconds(60)))
        << SlurpFile(Path("e1.txt"));
    // Now some trials are running.
    tune.Signal(SIGKILL);
    EXPECT_EQ(tune.Wait(), 128 + SIGKILL);
  }
  const std::string done_before =
      Query("SELECT group_concat(number) FROM trials WHERE state = 'complete'");
  ASSERT_EQ(Run(TuneArgs(command, 10)), 0) << Err();
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials"), "10");
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials WHERE state = 'complete'"), "10");
  EXPECT_EQ(Query("SELECT COUNT(DISTINCT param_key) FROM trials"), "10");
  EXPECT_EQ(Query("PRAGMA integrity_check"), "ok");
  // None of the finished trials ran again; the ones the kill interrupted did (attempt 2).
  EXPECT_EQ(Query("SELECT MAX(attempts) FROM trials WHERE number IN (" + done_before + ")"), "1");
  EXPECT_EQ(Query("SELECT MAX(attempts) FROM trials"), "2");
}

// Twenty kill -9s at random points: of the tune process every time, and of a running trial
// first every fifth time. Each rerun resumes; in the end the study is complete, no trial the
// store had finished ran again, no configuration twice, and SQLite finds no corruption.
TEST_F(TuneCliTest, TwentyRandomKillsThenTheStudyIsCompleteAndWhole) {
  constexpr int kKills = 20;
  constexpr int kTrials = 150;
  // Each trial appends its metrics path (so its number) to a ledger after writing its result.
  Write("ledgered.sh", R"(#!/bin/sh
x=$1; y=$2; out=$3; ledger=$4
sleep 0.1
awk -v x="$x" -v y="$y" 'BEGIN { printf "{\"f\": %.8f}\n", (x-0.3)^2+(y-0.1)^2 }' > "$out"
echo "$out" >> "$ledger"
)");
  const std::string command =
      "sh " + Path("ledgered.sh") + " {x} {y} {metrics_file} " + Path("ledger.txt");
  std::vector<std::string> args = TuneArgs(command, kTrials);
  args[16] = "random";  // --sampler: cheap proposals, so the kills land anywhere
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int> delay_ms(50, 900);
  std::map<std::string, std::string> finished_attempts;  // trial number -> attempts, at a kill
  int kills = 0, trial_kills = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  for (int round = 0; kills < kKills && std::chrono::steady_clock::now() < deadline; ++round) {
    // Mostly at a random time after the process joined the study; every seventh kill while
    // it starts (opening or creating the database).
    auto workers = [&] {
      const std::string n = Query("SELECT COUNT(*) FROM workers");
      return n == "(error)" ? 0 : std::stoi(n);
    };
    const int workers_before = workers();
    AiokProcess tune(args, Path("o.txt"), Path("e.txt"));
    ASSERT_TRUE(tune.started());
    const int wait_ms = delay_ms(rng);
    if (round % 7 == 3) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms / 3));
    } else {
      ASSERT_TRUE(
          tune.WaitFor([&] { return workers() > workers_before; }, std::chrono::seconds(60)))
          << "round " << round << ": " << SlurpFile(Path("e.txt"));
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
    if (round % 5 == 4) {
      // A trial started once, killed from outside: preempted, it runs again. Only a process
      // whose command line is this test's script (a stale row's pid may be anyone's by now).
      const std::string pid = Query(
          "SELECT pid FROM trials WHERE state = 'running' AND attempts = 1 AND pid > 0 "
          "AND worker_id = (SELECT MAX(id) FROM workers) LIMIT 1");
      if (!pid.empty() && pid != "(error)" &&
          SlurpFile("/proc/" + pid + "/cmdline").find(Path("ledgered.sh")) != std::string::npos &&
          ::kill(std::stoi(pid), SIGKILL) == 0)
        ++trial_kills;
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng) / 4));
    }
    tune.Signal(SIGKILL);
    const int code = tune.Wait();
    ASSERT_NE(code, 2) << "round " << round << ": " << SlurpFile(Path("e.txt"));
    ASSERT_TRUE(code == 128 + SIGKILL)
        << "round " << round << " ended by itself with " << code << " before its kill at "
        << wait_ms << " ms; " << SlurpFile(Path("e.txt"));
    ++kills;
    // Nothing of the killed process's trials runs on: no command finishes behind the rerun.
    // The supervisors kill their groups at once; 20 s only bounds a starved scheduler (the
    // suite runs two tests at a time on 2 cores). A grandchild that outlives tune is caught
    // by KillNineOfTuneLeavesNoGrandchildOfATrialRunning, whose children would live 300 s.
    const std::vector<int> orphans = WaitUntilGone(
        [&](int, int, const std::string& cmdline) {
          return cmdline.find(Path("ledgered.sh")) != std::string::npos;
        },
        20);
    ASSERT_TRUE(orphans.empty()) << "round " << round << ": " << orphans.size()
                                 << " trial processes outlived kill -9 of tune, e.g. pid "
                                 << orphans.front();
    const std::string done = Query(
        "SELECT group_concat(number || ':' || attempts) FROM trials WHERE state = 'complete'");
    std::stringstream items(done == "(error)" ? "" : done);
    for (std::string item; std::getline(items, item, ',');)
      finished_attempts[item.substr(0, item.find(':'))] = item.substr(item.find(':') + 1);
  }
  ASSERT_EQ(kills, kKills) << "the kills took longer than the test's 4 minutes";
  EXPECT_GE(trial_kills, 1);
  ASSERT_EQ(Run(args), 0) << Err();
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials WHERE state = 'complete'"), std::to_string(kTrials));
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials"), std::to_string(kTrials));
  EXPECT_EQ(Query("SELECT COUNT(DISTINCT param_key) FROM trials"), std::to_string(kTrials));
  EXPECT_EQ(Query("SELECT MIN(number) || '-' || MAX(number) FROM trials"),
            "0-" + std::to_string(kTrials - 1));
  EXPECT_EQ(Query("PRAGMA integrity_check"), "ok");
  // Every trial the store had finished at a kill kept its attempts: it never ran again.
  EXPECT_GT(finished_attempts.size(), 0u);
  for (const auto& [number, attempts] : finished_attempts)
    EXPECT_EQ(Query("SELECT attempts FROM trials WHERE number = " + number), attempts)
        << "trial " << number;
  // The ledger: every trial finished its command, and one that finished it more than once was
  // one the store saw interrupted (attempts > 1): a kill came after its command wrote the
  // ledger and before tune recorded the result. Each attempt runs the command at most once
  // (no orphan of an earlier attempt finishes it too), so a kill of tune repeats at most
  // --workers (2) trials and a kill of a trial at most that one.
  std::map<int, int> runs;
  std::stringstream ledger(SlurpFile(Path("ledger.txt")));
  for (std::string line; std::getline(ledger, line);) {
    const size_t at = line.find("trial-");
    ASSERT_NE(at, std::string::npos) << line;
    ++runs[std::stoi(line.substr(at + 6, 4))];
  }
  EXPECT_EQ(runs.size(), static_cast<size_t>(kTrials));
  int repeats = 0;
  for (const auto& [number, count] : runs) {
    if (count == 1)
      continue;
    repeats += count - 1;
    EXPECT_GT(
        std::stoi(Query("SELECT attempts FROM trials WHERE number = " + std::to_string(number))), 1)
        << "trial " << number << " finished its command " << count << " times";
    EXPECT_LE(count, std::stoi(Query("SELECT attempts FROM trials WHERE number = " +
                                     std::to_string(number))))
        << "trial " << number << " finished its command more often than it was started";
  }
  EXPECT_LE(repeats, 2 * kills + trial_kills);
  std::cout << kills << " kills of tune, " << trial_kills << " of a trial; "
            << finished_attempts.size() << " trials finished before a kill; " << repeats
            << " commands that finished as a kill came were rerun\n";
}

// kill -9 of tune while each trial's command has a child of its own (a shell script that
// started `sleep 300`): the trial's whole process group goes within seconds, grandchild
// included. And a command that exits leaving a child behind takes it along.
TEST_F(TuneCliTest, KillNineOfTuneLeavesNoGrandchildOfATrialRunning) {
  Write("forks.sh", R"sh(#!/bin/sh
dir=$3; linger=$4
sleep 300 &
echo "$! $(cut -d' ' -f5 /proc/$$/stat)" > "$dir/pids.tmp" && mv "$dir/pids.tmp" "$dir/pids"
if [ "$linger" = wait ]; then wait; fi
echo '{"f": 1}' > "$dir/metrics.json"
)sh");
  auto recorded = [&](int trial) {  // {sleep pid, process group} the trial wrote, or {0, 0}
    std::istringstream in(SlurpFile(Path("out/trial-000" + std::to_string(trial) + "/pids")));
    int sleep_pid = 0, group = 0;
    in >> sleep_pid >> group;
    return std::make_pair(sleep_pid, group);
  };
  auto in_group = [](int group) {
    return [group](int, int g, const std::string&) { return g == group; };
  };
  {
    AiokProcess tune(TuneArgs("sh " + Path("forks.sh") + " {x} {y} {trial_dir} wait", 4),
                     Path("o1.txt"), Path("e1.txt"));
    ASSERT_TRUE(tune.started());
    ASSERT_TRUE(tune.WaitFor([&] { return recorded(0).second > 0 && recorded(1).second > 0; },
                             std::chrono::seconds(60)))
        << SlurpFile(Path("e1.txt"));
    for (int trial : {0, 1}) {
      const auto [sleep_pid, group] = recorded(trial);
      // The grandchild runs, in the trial's group, which is not the test's or tune's.
      EXPECT_EQ(LiveProcesses([&](int pid, int g, const std::string&) {
                  return pid == sleep_pid && g == group;
                }).size(),
                1u)
          << "trial " << trial;
      EXPECT_NE(group, ::getpgrp());
    }
    tune.Signal(SIGKILL);
    EXPECT_EQ(tune.Wait(), 128 + SIGKILL);
  }
  for (int trial : {0, 1}) {
    const std::vector<int> left = WaitUntilGone(in_group(recorded(trial).second), 5);
    EXPECT_TRUE(left.empty()) << "trial " << trial << ": " << left.size()
                              << " processes of its group outlived tune by 5 s, e.g. pid "
                              << left.front();
  }

  // A command that ends by itself with `sleep 300` still running in the background.
  fs::remove_all(Path("out"));
  ASSERT_EQ(Run(TuneArgs("sh " + Path("forks.sh") + " {x} {y} {trial_dir} exit", 2, "leftover.db")),
            0)
      << Err();
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials WHERE state = 'complete'", "leftover.db"), "2");
  for (int trial : {0, 1}) {
    ASSERT_GT(recorded(trial).second, 0) << "trial " << trial;
    const std::vector<int> left = WaitUntilGone(in_group(recorded(trial).second), 5);
    EXPECT_TRUE(left.empty()) << "trial " << trial << " left " << left.size() << " processes";
  }
}

TEST_F(TuneCliTest, ATrialKilledWithSignalNineRunsAgain) {
  const std::string command = Command("0 " + Path("killed-once"));
  ASSERT_EQ(Run(TuneArgs(command, 4)), 0) << Err();
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials WHERE state = 'complete'"), "4");
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials WHERE attempts = 2"), "1");
  EXPECT_TRUE(fs::exists(Path("killed-once")));
}

TEST_F(TuneCliTest, TwoTuneProcessesShareOneStudy) {
  AiokProcess a(TuneArgs(Command("0.05"), 16), Path("oa.txt"), Path("ea.txt"));
  AiokProcess b(TuneArgs(Command("0.05"), 16), Path("ob.txt"), Path("eb.txt"));
  EXPECT_EQ(a.Wait(), 0) << SlurpFile(Path("ea.txt"));
  EXPECT_EQ(b.Wait(), 0) << SlurpFile(Path("eb.txt"));
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials WHERE state = 'complete'"), "16");
  EXPECT_EQ(Query("SELECT COUNT(DISTINCT param_key) FROM trials"), "16");
  EXPECT_EQ(Query("SELECT COUNT(DISTINCT worker_id) FROM trials"), "2");
  EXPECT_EQ(Query("PRAGMA integrity_check"), "ok");
}

TEST_F(TuneCliTest, PruningWorksFromTheCurveFile) {
  // f's curve starts at 3x its final value; median pruning compares at equal progress.
  const std::string command =
      "sh " + Path("objective.sh") + " {x} {y} {metrics_file} 0.2 '' {curve_file}";
  std::vector<std::string> args = TuneArgs(command, 16);
  args[10] = "1";       // --workers: one at a time, so that finished trials precede each report
  args[16] = "random";  // --sampler
  args.insert(args.end(), {"--pruner", "median"});
  ASSERT_EQ(Run(args), 0) << Err();
  EXPECT_GT(std::stoi(Query("SELECT COUNT(*) FROM reports")), 16);
  EXPECT_GE(std::stoi(Query("SELECT COUNT(*) FROM trials WHERE state = 'pruned'")), 1);
  EXPECT_NE(Query("SELECT message FROM trials WHERE state = 'pruned' LIMIT 1")
                .find("worse than the median"),
            std::string::npos);
}

TEST_F(TuneCliTest, BadInputExitsWithCodeTwoAndSaysWhy) {
  Write("unknown.yaml", "lrr: {low: 0.001, high: 0.1}\n");
  EXPECT_EQ(Run({"tune", "--data", Path("nowhere"), "--space", Path("unknown.yaml"), "--study",
                 Path("s1.db")}),
            2);
  EXPECT_NE(Err().find("did you mean 'lr'"), std::string::npos) << Err();

  Write("wide.yaml", "lr: {low: 0.001, high: 1000, log: true}\n");
  EXPECT_EQ(Run({"tune", "--data", Path("nowhere"), "--space", Path("wide.yaml"), "--study",
                 Path("s2.db")}),
            2);
  EXPECT_NE(Err().find("outside the declared bounds [0, 100]"), std::string::npos) << Err();

  std::vector<std::string> missing = TuneArgs(Command(), 3, "s3.db");
  missing[6] = "z:max";  // --objectives
  EXPECT_EQ(Run(missing), 2);
  EXPECT_NE(Err().find("objective 'z' is not among the metrics the trial reports (f, g)"),
            std::string::npos)
      << Err();

  ASSERT_EQ(Run(TuneArgs(Command(), 2, "s4.db")), 0) << Err();
  EXPECT_EQ(Run(TuneArgs("sh " + Path("objective.sh") + " {y} {x} {metrics_file}", 2, "s4.db")), 2);
  EXPECT_NE(Err().find("is a study of command:"), std::string::npos) << Err();

  EXPECT_EQ(Run(TuneArgs("sh " + Path("objective.sh") + " {x} {metrics_file}", 2, "s5.db")), 2);
  EXPECT_NE(Err().find("'y' does not appear in --command"), std::string::npos) << Err();
}

TEST_F(TuneCliTest, RealTrainTrialsReportTheirValidationCurve) {
  ASSERT_EQ(Run({"datagen", "criteo", "--rows", "6000", "--card-scale", "0.001", "--out",
                 Path("raw"), "-q"}),
            0)
      << Err();
  ASSERT_EQ(Run({"etl", "--input", Path("raw/train.txt"), "--out", Path("ds"), "-q"}), 0) << Err();
  Write("small.yaml",
        "emb-dim: {choices: [4, 8]}\nmlp-bot: {layers: [1, 2], width: [16, 32], last: "
        "emb-dim}\nmlp-top: {layers: [1, 2], width: [16, 32], last: 1}\n"
        "batch-size: {choices: [256, 512]}\n");
  ASSERT_EQ(Run({"tune",
                 "--data",
                 Path("ds"),
                 "--model",
                 "dlrm",
                 "--objectives",
                 "auc:max,train_seconds:min",
                 "--trials",
                 "3",
                 "--workers",
                 "1",
                 "--space",
                 Path("small.yaml"),
                 "--study",
                 Path("train.db"),
                 "--out",
                 Path("trials"),
                 "--reports",
                 "4",
                 "--threads",
                 "2",
                 "-q"}),
            0)
      << Err();
  EXPECT_EQ(Query("SELECT COUNT(*) FROM trials WHERE state IN ('complete', 'pruned')", "train.db"),
            "3");
  EXPECT_GE(std::stoi(Query("SELECT COUNT(*) FROM reports", "train.db")), 3);
  EXPECT_EQ(Query("SELECT MAX(progress) <= 1.0 AND MIN(progress) > 0 FROM reports", "train.db"),
            "1");
  EXPECT_NE(Query("SELECT json_extract(metrics, '$.auc') FROM reports LIMIT 1", "train.db"), "");
  ASSERT_EQ(Run({"tune", "export", Path("train.db"), "--out", Path("run.yaml")}), 0) << Err();
  const std::string yaml = SlurpFile(Path("run.yaml"));
  EXPECT_NE(yaml.find("mlp-top:"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("model: dlrm"), std::string::npos) << yaml;
}

// Each registered model's built-in space (no --space) runs a real aiok train trial: Criteo-like
// data for DLRM and Wide&Deep, a behaviour log with shared vocabularies for DIEN.
TEST_F(TuneCliTest, EveryModelsBuiltInSpaceRunsARealTrial) {
  ASSERT_EQ(Run({"datagen", "criteo", "--rows", "3000", "--card-scale", "0.001", "--out",
                 Path("criteo"), "-q"}),
            0)
      << Err();
  ASSERT_EQ(Run({"etl", "--input", Path("criteo/train.txt"), "--out", Path("criteo_ds"), "-q"}), 0)
      << Err();
  ASSERT_EQ(Run({"datagen", "sequences", "--users", "200", "--out", Path("seq"), "-q"}), 0)
      << Err();
  ASSERT_EQ(Run({"etl", "--input", Path("seq/events.csv"), "--schema", Path("seq/schema.yaml"),
                 "--preset", "sequences", "--out", Path("seq_ds"), "-q"}),
            0)
      << Err();
  // A parameter only the model's own space has, as a witness that it was used.
  const std::map<std::string, std::pair<std::string, std::string>> models = {
      {"dlrm", {"criteo_ds", "mlp-top.layers"}},
      {"wnd", {"criteo_ds", "wide-update"}},
      {"dien", {"seq_ds", "aux-weight"}}};
  for (const auto& [model, setup] : models) {
    const std::string study = model + ".db";
    ASSERT_EQ(Run({"tune",
                   "--data",
                   Path(setup.first),
                   "--model",
                   model,
                   "--trials",
                   "1",
                   "--fixed",
                   "max-steps=8",
                   "--reports",
                   "2",
                   "--sampler",
                   "random",
                   "--study",
                   Path(study),
                   "--out",
                   Path(model + "_trials"),
                   "--threads",
                   "2",
                   "-q"}),
              0)
        << model << ": " << Err();
    EXPECT_EQ(Query("SELECT state FROM trials WHERE number = 0", study), "complete")
        << model << ": " << Query("SELECT message FROM trials", study);
    EXPECT_NE(Query("SELECT json_extract(params, '$.\"" + setup.second + "\"') FROM trials", study),
              "")
        << model << ": " << Query("SELECT params FROM trials", study);
    const double auc = std::stod(Query("SELECT json_extract(metrics, '$.auc') FROM trials", study));
    EXPECT_GT(auc, 0.0) << model;
    EXPECT_LE(auc, 1.0) << model;
  }
}

}  // namespace
}  // namespace aiok::testing
