// `mpirun -np 2 aiok train` as a user runs it: two ranks train like one process, rank 0
// writes, a bad batch size or a failing rank stops every rank with one message, a killed rank
// takes the others down within seconds, and a checkpoint resumes with another rank count.
// Skipped, saying why, when mpirun cannot start two ranks here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aiok/models/model.h"

extern char** environ;

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
    ++n;
  return n;
}

// mpirun on loopback only (a sandbox may have no other interface), shared memory between
// local ranks, as root if need be, more ranks than cores allowed, each rank on any core.
std::vector<std::string> Mpirun() {
  return {"mpirun",
          "--allow-run-as-root",
          "--oversubscribe",
          "--bind-to",
          "none",
          "--mca",
          "btl",
          "self,vader,tcp",
          "--mca",
          "btl_tcp_if_include",
          "lo",
          "--mca",
          "oob_tcp_if_include",
          "lo"};
}

// A process started with posix_spawnp in its own process group, output to files.
class Process {
 public:
  Process(const std::vector<std::string>& args, const fs::path& out, const fs::path& err)
      : out_(out), err_(err) {
    std::vector<std::string> storage = args;
    std::vector<char*> argv;
    for (auto& arg : storage)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    if (posix_spawnp(&pid_, argv[0], &actions, &attributes, argv.data(), environ) != 0)
      pid_ = -1;
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    start_ = Clock::now();
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
  }

  pid_t pid() const { return pid_; }
  bool Exited() {
    if (!exited_ && ::waitpid(pid_, &status_, WNOHANG) == pid_)
      exited_ = true;
    return exited_;
  }
  /// The exit code (128 + signal if killed), or -1 if it ran past `timeout` (then killed).
  int Wait(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!Exited()) {
      if (Clock::now() > deadline) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        exited_ = true;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  std::string err() const { return Slurp(err_); }

 private:
  fs::path out_;
  fs::path err_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
  Clock::time_point start_;
};

// The pid of the child of `parent` whose environment says it is MPI rank `rank`; -1 if none.
pid_t RankPid(pid_t parent, int rank) {
  const std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::istringstream stat(Slurp(entry.path() / "stat"));
    std::string pid, comm, state;
    pid_t ppid = 0;
    stat >> pid >> comm >> state >> ppid;
    if (ppid != parent)
      continue;
    const std::string environment = Slurp(entry.path() / "environ");
    std::istringstream variables(environment);
    for (std::string variable; std::getline(variables, variable, '\0');) {
      if (variable == wanted)
        return static_cast<pid_t>(std::stol(name));
    }
  }
  return -1;
}

bool Alive(pid_t pid) {
  if (::kill(pid, 0) != 0)
    return false;
  std::istringstream stat(Slurp("/proc/" + std::to_string(pid) + "/stat"));
  std::string id, comm, state;
  stat >> id >> comm >> state;
  return state != "Z";
}

class MpiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("aiok_mpi_" + std::to_string(getpid())));
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    std::vector<std::string> probe = Mpirun();
    probe.insert(probe.end(), {"-np", "2", "true"});
    Process check(probe, *root_ / "probe.out", *root_ / "probe.err");
    if (check.pid() <= 0) {
      *skip_ = "mpirun is not on PATH (openmpi-bin; scripts/setup.sh installs it)";
      return;
    }
    const int code = check.Wait(std::chrono::seconds(60));
    if (code != 0) {
      *skip_ = "mpirun cannot start 2 ranks here (exit " + std::to_string(code) +
               "): " + Slurp(*root_ / "probe.err").substr(0, 400);
      return;
    }
    // 20000 rows, small vocabularies: 17142 train rows, so the last global batch of 512 has
    // 246 rows, all in rank 0's share (rank 1's is empty).
    ASSERT_EQ(RunAiok({"datagen", "criteo", "--rows", "20000", "--card-scale", "0.001", "--out",
                       (*root_ / "raw").string(), "-q"}),
              0);
    ASSERT_EQ(RunAiok({"etl", "--input", (*root_ / "raw" / "train.txt").string(), "--out",
                       (*root_ / "ds").string(), "-q"}),
              0);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override {
    if (!skip_->empty())
      GTEST_SKIP() << *skip_;
  }

  static int RunAiok(std::vector<std::string> args) {
    args.insert(args.begin(), AIOK_BINARY);
    Process process(args, *root_ / "aiok.out", *root_ / "aiok.err");
    const int code = process.Wait(std::chrono::seconds(300));
    if (code != 0)
      ADD_FAILURE() << process.err();
    return code;
  }
  // `aiok train` on the test dataset into ROOT/out with `args`, on `ranks` ranks (1: without
  // mpirun).
  static std::vector<std::string> TrainCommand(int ranks, const std::string& out,
                                               const std::vector<std::string>& args,
                                               const std::string& data = "ds") {
    std::vector<std::string> command;
    if (ranks > 1) {
      command = Mpirun();
      command.insert(command.end(), {"-np", std::to_string(ranks)});
    }
    command.insert(command.end(), {AIOK_BINARY, "train", "--data", (*root_ / data).string(),
                                   "--out", (*root_ / out).string(), "--threads", "1",
                                   "--precision", "fp32", "--seed", "7"});
    command.insert(command.end(), args.begin(), args.end());
    return command;
  }
  // Runs it to the end; the exit code, stderr in *err.
  static int Train(int ranks, const std::string& out, const std::vector<std::string>& args,
                   std::string* err = nullptr, const std::string& data = "ds") {
    Process process(TrainCommand(ranks, out, args, data), *root_ / (out + ".out"),
                    *root_ / (out + ".err"));
    const int code = process.Wait(std::chrono::seconds(300));
    if (err != nullptr)
      *err = process.err();
    else if (code != 0)
      ADD_FAILURE() << process.err();
    return code;
  }
  static nlohmann::json Metrics(const std::string& out) {
    return nlohmann::json::parse(Slurp(*root_ / out / "metrics.json"));
  }

  // Every parameter and buffer of OUT/model.pt by name, for the model metrics.json describes.
  static std::vector<std::pair<std::string, torch::Tensor>> Weights(const std::string& out) {
    const nlohmann::json metrics = Metrics(out);
    std::unique_ptr<aiok::models::Model> model = aiok::models::BuiltinModels().FromArchitecture(
        metrics.at("model"), metrics.at("architecture"));
    aiok::models::LoadWeights(*model, (*root_ / out / "model.pt").string());
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& p : model->module()->named_parameters())
      tensors.emplace_back(p.key(), p.value().clone());
    for (const auto& b : model->module()->named_buffers())
      tensors.emplace_back(b.key(), b.value().clone());
    return tensors;
  }

  // The two runs' metrics and weights agree within float-reassociation tolerance. `noise`
  // names parameters whose gradient is zero in exact arithmetic: their values are rounding
  // noise that Adagrad turns into full-rate steps, in any run, and change no prediction.
  static void ExpectSameTraining(const std::string& a, const std::string& b,
                                 const std::vector<std::string>& noise = {}) {
    const nlohmann::json ma = Metrics(a);
    const nlohmann::json mb = Metrics(b);
    EXPECT_EQ(ma["train"]["steps"], mb["train"]["steps"]);
    EXPECT_EQ(ma["train"]["samples"], mb["train"]["samples"]);
    for (const char* split : {"valid", "test"}) {
      for (const char* metric : {"auc", "logloss"}) {
        EXPECT_NEAR(ma[split][metric].get<double>(), mb[split][metric].get<double>(), 1e-4)
            << split << " " << metric << " of " << a << " and " << b;
      }
    }
    const auto wa = Weights(a);
    const auto wb = Weights(b);
    ASSERT_EQ(wa.size(), wb.size());
    size_t compared = 0;
    for (size_t i = 0; i < wa.size(); ++i) {
      ASSERT_EQ(wa[i].first, wb[i].first);
      if (std::find(noise.begin(), noise.end(), wa[i].first) != noise.end())
        continue;
      const double scale = wa[i].second.abs().max().item<double>() + 1e-3;
      const double difference = (wa[i].second - wb[i].second).abs().max().item<double>();
      EXPECT_LT(difference, 1e-3 * scale) << wa[i].first << " of " << a << " and " << b;
      ++compared;
    }
    EXPECT_EQ(compared + noise.size(), wa.size()) << "a name in `noise` is not a tensor";
  }

  static fs::path* root_;
  static std::string* skip_;
};
fs::path* MpiTest::root_ = nullptr;
std::string* MpiTest::skip_ = new std::string;

TEST_F(MpiTest, DlrmOnTwoRanksTrainsLikeOneProcessAndOnlyRankZeroWrites) {
  const std::vector<std::string> args = {"--preset", "dlrm-tiny", "--batch-size", "512"};
  ASSERT_EQ(Train(1, "dlrm1", args), 0);
  std::string err;
  ASSERT_EQ(Train(2, "dlrm2", args, &err), 0) << err;
  ExpectSameTraining("dlrm1", "dlrm2");
  const nlohmann::json metrics = Metrics("dlrm2");
  EXPECT_EQ(metrics["train"]["ranks"], 2);
  EXPECT_EQ(metrics["config"]["batch-size"], 512);  // the global batch
  EXPECT_GT(metrics["train"]["communication"]["bytes_per_step"].get<double>(), 0.0);
  EXPECT_EQ(Metrics("dlrm1")["train"]["communication"]["bytes_per_step"], 0.0);
  // One summary line, from rank 0.
  EXPECT_EQ(Count(Slurp(*root_ / "dlrm2.out"), "train: 34 steps"), 1u);
  // Rank 0 alone writes: one evaluation at the epoch's end, one curve line.
  EXPECT_EQ(Count(Slurp(*root_ / "dlrm2" / "curve.jsonl"), "\n"), 1u);
}

TEST_F(MpiTest, DlrmOnFourRanksTrainsLikeOneProcess) {
  // 128 rows per rank; the last global batch (246 rows) leaves ranks 2 and 3 without rows.
  const std::vector<std::string> args = {"--preset", "dlrm-tiny", "--batch-size", "512"};
  ASSERT_EQ(Train(1, "four1", args), 0);
  ASSERT_EQ(Train(4, "four4", args), 0);
  ExpectSameTraining("four1", "four4");
  EXPECT_EQ(Metrics("four4")["train"]["ranks"], 4);
}

TEST_F(MpiTest, DienOnTwoAndFourRanksTrainsLikeOneProcess) {
  // A model with sequences: histories shared out by rows, packed GRU/AUGRU, attention. Dice
  // and the auxiliary loss's in-batch negatives depend on which rows share a batch (like
  // batch normalization without synchronized statistics), so this run uses PReLU and no
  // auxiliary loss; ARCHITECTURE.md says why and what would lift it.
  ASSERT_EQ(RunAiok({"datagen", "sequences", "--users", "300", "--events-per-user", "20",
                     "--out", (*root_ / "seqraw").string(), "-q"}),
            0);
  ASSERT_EQ(RunAiok({"etl", "--input", (*root_ / "seqraw" / "events.csv").string(), "--preset",
                     "sequences", "--out", (*root_ / "seqds").string(), "-q"}),
            0);
  const std::vector<std::string> args = {"--model",      "dien",  "--preset",     "dien-small",
                                         "--activation", "prelu", "--aux-weight", "0",
                                         "--batch-size", "128"};
  ASSERT_EQ(Train(1, "dien1", args, nullptr, "seqds"), 0);
  ASSERT_EQ(Train(2, "dien2", args, nullptr, "seqds"), 0);
  ASSERT_EQ(Train(4, "dien4", args, nullptr, "seqds"), 0);
  // The attention scores go through a softmax over each row's positions, which a constant
  // shift does not change: the last attention layer's bias gets a zero gradient but for
  // rounding.
  const std::vector<std::string> noise = {"attention.4.bias"};
  ExpectSameTraining("dien1", "dien2", noise);
  ExpectSameTraining("dien1", "dien4", noise);
}

TEST_F(MpiTest, WideAndDeepWithLambAndWarmupOnTwoRanksTrainsLikeOneProcess) {
  // Two sparse groups (the wide FTRL weights and the deep tables), LAMB after a warmup.
  const std::vector<std::string> args = {
      "--model", "wnd",         "--preset", "wnd-small",      "--mlp", "32-16", "--batch-size",
      "256",     "--optimizer", "lamb",     "--warmup-steps", "20",    "--lr",  "0.01"};
  ASSERT_EQ(Train(1, "wnd1", args), 0);
  ASSERT_EQ(Train(2, "wnd2", args), 0);
  ExpectSameTraining("wnd1", "wnd2");
}

TEST_F(MpiTest, ABatchTheRanksCannotShareIsRefusedBeforeAnyWork) {
  std::string err;
  Process run(TrainCommand(2, "odd", {"--preset", "dlrm-tiny", "--batch-size", "511"}),
              *root_ / "odd.out", *root_ / "odd.err");
  const int code = run.Wait(std::chrono::seconds(120));
  err = run.err();
  EXPECT_EQ(code, 2) << err;
  EXPECT_EQ(Count(err, "--batch-size 511 is the global batch"), 1u) << err;
  EXPECT_NE(err.find("must be a multiple of 2"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(*root_ / "odd")) << "nothing may be written";
}

TEST_F(MpiTest, ARankThatCannotStartIsNamedByRankZeroAndNoRankTrains) {
  // MPMD: rank 1 gets a dataset directory that does not exist.
  std::vector<std::string> command = Mpirun();
  const std::vector<std::string> rank0 = TrainCommand(1, "bad", {"--preset", "dlrm-tiny"});
  std::vector<std::string> rank1 = rank0;
  std::replace(rank1.begin(), rank1.end(), (*root_ / "ds").string(),
               (*root_ / "no-such-ds").string());
  command.insert(command.end(), {"-np", "1"});
  command.insert(command.end(), rank0.begin(), rank0.end());
  command.insert(command.end(), {":", "-np", "1"});
  command.insert(command.end(), rank1.begin(), rank1.end());
  Process run(command, *root_ / "bad.out", *root_ / "bad.err");
  const int code = run.Wait(std::chrono::seconds(120));
  const std::string err = run.err();
  EXPECT_NE(code, 0) << err;
  EXPECT_EQ(Count(err, "rank 1 of 2: "), 1u) << err;
  EXPECT_NE(err.find("no-such-ds"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(*root_ / "bad" / "model.pt"));
}

// Starts a long two-rank run and waits until it is training (rank 0 has written a curve
// point); returns the pid of rank `rank`.
pid_t StartLongRun(Process& run, const fs::path& out, int rank) {
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!fs::exists(out / "curve.jsonl") && Clock::now() < deadline && !run.Exited())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!fs::exists(out / "curve.jsonl"))
    return -1;
  return RankPid(run.pid(), rank);
}

TEST_F(MpiTest, AKilledRankStopsEveryRankWithinSeconds) {
  Process run(TrainCommand(2, "killed",
                           {"--preset", "dlrm-tiny", "--batch-size", "256", "--epochs", "200",
                            "--eval-every", "3"}),
              *root_ / "killed.out", *root_ / "killed.err");
  const pid_t rank1 = StartLongRun(run, *root_ / "killed", 1);
  ASSERT_GT(rank1, 0) << run.err();
  const pid_t rank0 = RankPid(run.pid(), 0);
  ASSERT_GT(rank0, 0);
  ::kill(rank1, SIGKILL);
  const auto killed = Clock::now();
  const int code = run.Wait(std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  const std::string err = run.err();
  EXPECT_NE(code, 0) << err;
  EXPECT_NE(code, -1) << "still running a minute after a rank was killed";
  EXPECT_LT(seconds, 10.0) << err;
  EXPECT_NE(err.find("signal 9"), std::string::npos) << err;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(Alive(rank0)) << "rank 0 outlived the job";
}

TEST_F(MpiTest, ARankThatStopsAnsweringEndsTheRunAfterTheRankTimeout) {
  // A rank that is alive but silent (SIGSTOP: stuck, swapped out, its network gone) does not
  // end the job by itself: rank 0 waits in the next exchange until --rank-timeout.
  Process run(TrainCommand(2, "silent",
                           {"--preset", "dlrm-tiny", "--batch-size", "256", "--epochs", "200",
                            "--eval-every", "3", "--rank-timeout", "5"}),
              *root_ / "silent.out", *root_ / "silent.err");
  const pid_t rank1 = StartLongRun(run, *root_ / "silent", 1);
  ASSERT_GT(rank1, 0) << run.err();
  const pid_t rank0 = RankPid(run.pid(), 0);
  ASSERT_GT(rank0, 0);
  ::kill(rank1, SIGSTOP);
  const auto stopped = Clock::now();
  const int code = run.Wait(std::chrono::seconds(120));
  const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
  const std::string err = run.err();
  ::kill(rank1, SIGKILL);  // in case mpirun left it stopped
  EXPECT_NE(code, 0) << err;
  EXPECT_NE(code, -1) << "still running two minutes after a rank stopped answering";
  EXPECT_GE(seconds, 5.0) << err;
  EXPECT_LT(seconds, 60.0) << err;
  EXPECT_NE(err.find("aiok: rank 0 of 2: no answer from the other ranks for 5 s in an all-"),
            std::string::npos)
      << err;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(Alive(rank0)) << "rank 0 outlived the job";
}

TEST_F(MpiTest, ARankThatFailsWhileTrainingStopsEveryRankWithItsMessage) {
  Process run(TrainCommand(2, "failed",
                           {"--preset", "dlrm-tiny", "--batch-size", "256", "--epochs", "200",
                            "--eval-every", "3"}),
              *root_ / "failed.out", *root_ / "failed.err");
  const pid_t rank1 = StartLongRun(run, *root_ / "failed", 1);
  ASSERT_GT(rank1, 0) << run.err();
  // SIGTERM asks rank 1 alone to stop: it fails its next step (kCancelled), the others are
  // waiting for its gradients.
  ::kill(rank1, SIGTERM);
  const auto stopped = Clock::now();
  const int code = run.Wait(std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
  const std::string err = run.err();
  EXPECT_EQ(code, 130) << err;
  EXPECT_LT(seconds, 10.0) << err;
  EXPECT_NE(err.find("aiok: rank 1 of 2: cancelled error"), std::string::npos) << err;
  EXPECT_NE(err.find("stopping every rank"), std::string::npos) << err;
}

TEST_F(MpiTest, ACheckpointResumesWithAnotherRankCount) {
  // Two epochs of 34 steps, uninterrupted on one process; then stopped at step 20 on two
  // ranks, resumed to step 45 (mid-epoch) on one, and to the end on two again.
  const std::vector<std::string> args = {"--preset", "dlrm-tiny", "--batch-size",  "512",
                                         "--epochs", "2",         "--no-keep-best"};
  ASSERT_EQ(Train(1, "whole", args), 0);
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> all = args;
    all.insert(all.end(), more.begin(), more.end());
    return all;
  };
  ASSERT_EQ(Train(2, "parts", with({"--max-steps", "20"})), 0);
  EXPECT_EQ(Metrics("parts")["train"]["steps"], 20);
  ASSERT_EQ(Train(1, "parts", with({"--max-steps", "45", "--resume"})), 0);
  EXPECT_EQ(Metrics("parts")["train"]["steps"], 45);
  ASSERT_EQ(Train(2, "parts", with({"--resume"})), 0);
  ExpectSameTraining("whole", "parts");
}

}  // namespace
