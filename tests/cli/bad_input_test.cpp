// Issue 15, defects 3 and 7-10, as a user meets them with the real `aiok` binary: inputs that
// are not regular files, damaged checkpoints and weights, a bad first line under
// --on-error skip, JSON and YAML fields of the wrong type, and outputs that would replace
// their inputs. Every run is bounded in time: a command that hangs is killed and fails.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "process.h"

namespace {
namespace fs = std::filesystem;
using aiok::testing::AiokProcess;
using aiok::testing::SlurpFile;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// One small trained model shared by the tests: raw rows, a dataset, a model directory with a
// checkpoint, and a bundle.
class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = fs::temp_directory_path() / ("aiok_bad_input_" + std::to_string(getpid()));
    fs::remove_all(shared_);
    fs::create_directories(shared_);
    const std::string s = shared_.string();
    setup_ok_ =
        Exec({"datagen", "criteo", "--rows", "3000", "--card-scale", "0.001", "-q", "--out",
              s + "/raw"})
                .exit_code == 0 &&
        Exec({"etl", "--input", s + "/raw/train.txt", "--out", s + "/ds", "-q"}).exit_code == 0 &&
        Exec(TrainArgs(s + "/model", "4")).exit_code == 0 &&
        Exec({"bundle", "--data", s + "/ds", "--model", s + "/model", "--out", s + "/bundle"})
                .exit_code == 0;
  }
  static void TearDownTestSuite() { fs::remove_all(shared_); }

  void SetUp() override {
    ASSERT_TRUE(setup_ok_) << "could not make the shared model in " << shared_;
    dir_ = shared_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(dir_);
  }

  static std::vector<std::string> TrainArgs(const std::string& out, const std::string& steps) {
    return {"train",
            "--data",
            (shared_ / "ds").string(),
            "--out",
            out,
            "--preset",
            "dlrm-tiny",
            "--batch-size",
            "256",
            "--max-steps",
            steps,
            "--checkpoint-every",
            "2",
            "-q"};
  }

  // Runs `aiok ARGS...`; a run still going after `limit` is killed and counts as a failure.
  static Result Exec(const std::vector<std::string>& args,
                     std::chrono::seconds limit = std::chrono::seconds(120)) {
    static int count = 0;
    const std::string stem = (shared_ / ("exec" + std::to_string(++count))).string();
    AiokProcess process(args, stem + ".out", stem + ".err");
    const auto start = std::chrono::steady_clock::now();
    process.WaitFor([] { return false; }, limit);  // returns at the exit, or at the limit
    if (std::chrono::steady_clock::now() - start >= limit) {
      ADD_FAILURE() << "aiok " << args[0] << " " << args[1] << " still runs after " << limit.count()
                    << " s";
      process.Signal(SIGKILL);
    }
    Result result;
    result.exit_code = process.Wait();
    result.out = process.out();
    result.err = process.err();
    return result;
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string Shared(const std::string& name) { return (shared_ / name).string(); }

  // The first `n` lines of the raw file, with their labels.
  std::string RawLines(int n) const {
    std::ifstream in(Shared("raw/train.txt"));
    std::string text;
    std::string line;
    for (int i = 0; i < n && std::getline(in, line); ++i)
      text += line + "\n";
    return text;
  }

  static void ExpectOneLineError(const Result& r, int exit_code, const std::string& mentions) {
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_NE(r.err.find(mentions), std::string::npos) << "expected '" << mentions << "' in\n"
                                                       << r.err;
    EXPECT_LE(std::count(r.err.begin(), r.err.end(), '\n'), exit_code == 2 ? 2 : 1) << r.err;
    EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Exception raised from"), std::string::npos) << r.err;
  }

  static fs::path shared_;
  static bool setup_ok_;
  fs::path dir_;
};

fs::path BadInputTest::shared_;
bool BadInputTest::setup_ok_ = false;

// --- defect 3: an input that is not a regular file ------------------------------------------

TEST_F(BadInputTest, AFifoOrDirectoryOrDeviceAsInputIsRefusedAtOnce) {
  const std::string fifo = Path("rows.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string yaml = Path("schema.yaml");
  ASSERT_EQ(Exec({"schema", "infer", Shared("raw/train.txt"), "--out", yaml}).exit_code, 0);
  const std::vector<std::vector<std::string>> commands = {
      {"etl", "--input", fifo, "--out", Path("o1")},
      {"etl", "--input", fifo, "--schema", yaml, "--out", Path("o2")},
      {"etl", "--input", Shared("raw/train.txt"), "--schema", fifo, "--out", Path("o3")},
      {"schema", "infer", fifo},
      {"schema", "check", fifo, "--schema", yaml},
      {"predict", "--model", Shared("bundle"), "--input", fifo, "--out", Path("p1")},
      {"run", "--data", fifo, "--out", Path("r1")},
      {"run", "--config", fifo, "--out", Path("r2")},
  };
  // Refusing takes well under a second; 30 s bounds the test where open() would wait.
  for (std::vector<std::string> args : commands) {
    args.push_back("-q");  // no progress lines: stderr holds the error alone
    const Result r = Exec(args, std::chrono::seconds(30));
    SCOPED_TRACE(args[0] + " " + args[1] + " " + args[2]);
    ExpectOneLineError(r, 1, "is not a regular file (a FIFO)");
  }
  ExpectOneLineError(
      Exec({"predict", "--model", Shared("bundle"), "--input", dir_.string(), "--out", Path("p2")},
           std::chrono::seconds(30)),
      1, "is not a regular file (a directory)");
  ExpectOneLineError(
      Exec({"etl", "--input", "/dev/zero", "--out", Path("o4")}, std::chrono::seconds(30)), 1,
      "'/dev/zero' is not a regular file (a character device)");
}

// --- defect 7: damaged checkpoints and weights ----------------------------------------------

TEST_F(BadInputTest, ATruncatedCheckpointNamesTheDamagedFileInOneLine) {
  auto resume_with = [&](const std::string& file, uintmax_t size) {
    const std::string out = Path("m-" + file + "-" + std::to_string(size));
    fs::copy(Shared("model"), out, fs::copy_options::recursive);
    fs::resize_file(out + "/checkpoint/" + file, size);
    std::vector<std::string> args = TrainArgs(out, "6");
    args.push_back("--resume");
    return std::make_pair(Exec(args), out + "/checkpoint/" + file);
  };
  {
    const auto [r, file] = resume_with("model.pt", 1000);
    ExpectOneLineError(r, 1, file + " is damaged or truncated: cannot load the weights");
  }
  {
    const auto [r, file] = resume_with("optimizer.pt", 500);
    ExpectOneLineError(r, 1, file + " is damaged or truncated: cannot load the optimizer's state");
  }
  {
    const auto [r, file] = resume_with("position.json", 20);
    ExpectOneLineError(r, 1, file + ": not valid JSON");
  }
  {
    const auto [r, file] = resume_with("model.pt", 0);
    ExpectOneLineError(r, 1, file + " is damaged or truncated");
  }
}

TEST_F(BadInputTest, ADamagedModelInABundleNamesTheFile) {
  const std::string bundle = Path("bundle");
  fs::copy(Shared("bundle"), bundle, fs::copy_options::recursive);
  fs::resize_file(bundle + "/model.pt", 1000);
  std::ofstream(Path("rows.tsv")) << RawLines(5);
  ExpectOneLineError(
      Exec({"predict", "--model", bundle, "--input", Path("rows.tsv"), "--out", Path("p")}), 1,
      bundle + "/model.pt is damaged");
}

// --- defect 8: a bad first line under --on-error skip ---------------------------------------

TEST_F(BadInputTest, ABadFirstLineBecomesNanUnderSkip) {
  const std::string rows = RawLines(20);
  const std::string tail = rows.substr(rows.find('\n') + 1);  // lines 2..20, with labels
  std::string unlabeled;                                      // the same lines without their label
  for (size_t at = 0; at < tail.size();) {
    const size_t end = tail.find('\n', at);
    unlabeled += tail.substr(tail.find('\t', at) + 1, end - tail.find('\t', at));
    at = end + 1;
  }
  for (const auto& [name, text] :
       {std::pair<std::string, std::string>{"labeled", tail}, {"unlabeled", unlabeled}}) {
    SCOPED_TRACE(name);
    const std::string input = Path(name + ".tsv");
    std::ofstream(input) << "garbage\n" << text;
    const std::string out = Path(name + ".pred");
    const Result r = Exec({"predict", "--model", Shared("bundle"), "--input", input, "--out", out,
                           "--on-error", "skip", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream lines(out);
    std::vector<std::string> predictions;
    for (std::string line; std::getline(lines, line);)
      predictions.push_back(line);
    ASSERT_EQ(predictions.size(), 20u);
    EXPECT_EQ(predictions[0], "nan");
    for (size_t i = 1; i < predictions.size(); ++i) {
      const double p = std::stod(predictions[i]);
      EXPECT_TRUE(p > 0 && p < 1) << i << ": " << predictions[i];
    }
    EXPECT_NE(SlurpFile(out + ".rejects.tsv").find("\n1\t"), std::string::npos)
        << SlurpFile(out + ".rejects.tsv");
    // Without skip the first line is still the error it was.
    ExpectOneLineError(Exec({"predict", "--model", Shared("bundle"), "--input", input, "--out",
                             Path(name + ".fail")}),
                       1, input + ":1: expected 39 fields");
  }
}

// --- defect 9: JSON and YAML fields of the wrong type ---------------------------------------

TEST_F(BadInputTest, AFieldOfTheWrongTypeNamesTheFileTheFieldAndTheType) {
  // bundle.json
  const std::string bundle = Path("bundle");
  fs::copy(Shared("bundle"), bundle, fs::copy_options::recursive);
  nlohmann::json manifest = nlohmann::json::parse(SlurpFile(bundle + "/bundle.json"));
  manifest["format_version"] = "1";
  std::ofstream(bundle + "/bundle.json") << manifest.dump(2);
  std::ofstream(Path("rows.tsv")) << RawLines(5);
  ExpectOneLineError(
      Exec({"predict", "--model", bundle, "--input", Path("rows.tsv"), "--out", Path("p")}), 1,
      bundle + "/bundle.json: format_version: expected an integer, found \"1\" (a string)");
  manifest["format_version"] = 2;
  manifest["files"]["model.pt"]["bytes"] = "many";
  std::ofstream(bundle + "/bundle.json") << manifest.dump(2);
  ExpectOneLineError(
      Exec({"predict", "--model", bundle, "--input", Path("rows.tsv"), "--out", Path("p")}), 1,
      bundle + "/bundle.json: files.model.pt.bytes: expected an integer, found \"many\"");

  manifest["files"]["model.pt"]["bytes"] =
      nlohmann::json::parse(SlurpFile(Shared("bundle/bundle.json")))["files"]["model.pt"]["bytes"];
  manifest["model"]["architecture"]["embedding_dim"] = "16";
  std::ofstream(bundle + "/bundle.json") << manifest.dump(2);
  ExpectOneLineError(
      Exec({"predict", "--model", bundle, "--input", Path("rows.tsv"), "--out", Path("p")}), 1,
      "dlrm architecture: embedding_dim: expected an integer, found \"16\" (a string) (in " +
          bundle + "/bundle.json: model.architecture)");

  // a dataset's schema.json
  const std::string ds = Path("ds");
  fs::copy(Shared("ds"), ds, fs::copy_options::recursive);
  nlohmann::json schema = nlohmann::json::parse(SlurpFile(ds + "/schema.json"));
  schema["splits"]["train"]["rows"] = "all";
  std::ofstream(ds + "/schema.json") << schema.dump(2);
  ExpectOneLineError(Exec({"dataset", "info", ds}), 1,
                     ds + "/schema.json: splits.train.rows: expected an integer, found \"all\"");

  // a checkpoint's position.json
  const std::string model = Path("model");
  fs::copy(Shared("model"), model, fs::copy_options::recursive);
  nlohmann::json position = nlohmann::json::parse(SlurpFile(model + "/checkpoint/position.json"));
  position["position"]["step"] = "4";
  std::ofstream(model + "/checkpoint/position.json") << position.dump(2);
  std::vector<std::string> resume = TrainArgs(model, "6");
  resume.push_back("--resume");
  ExpectOneLineError(Exec(resume), 1,
                     model +
                         "/checkpoint/position.json: position.step: expected an integer, "
                         "found \"4\" (a string)");

  // run.yaml
  std::ofstream(Path("run.yaml")) << "etl:\n  freq_threshold: often\nseed: 1\n";
  ExpectOneLineError(Exec({"run", "--config", Path("run.yaml"), "--out", Path("r")}), 2,
                     Path("run.yaml") +
                         ": etl.freq_threshold: expected an integer, found "
                         "\"often\" (a string)");
  std::ofstream(Path("run2.yaml")) << "seed: [1]\n";
  ExpectOneLineError(Exec({"run", "--config", Path("run2.yaml"), "--out", Path("r")}), 2,
                     Path("run2.yaml") + ": seed: expected a non-negative integer, found [1]");

  // the input schema YAML
  std::ofstream(Path("schema.yaml")) << "fields:\n  - {name: 3, role: dense, type: int64}\n";
  ExpectOneLineError(Exec({"schema", "check", Path("rows.tsv"), "--schema", Path("schema.yaml")}),
                     2, Path("schema.yaml") + ": fields[0]: expected 'name' as a string");
}

// --- defect 10: an output that would replace its input --------------------------------------

TEST_F(BadInputTest, AnOutputThatWouldReplaceTheInputIsRefused) {
  const std::string rows = RawLines(10);
  const std::string input = Path("rows.tsv");
  std::ofstream(input) << rows;
  fs::create_hard_link(input, Path("link.tsv"));
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {{"predict", "--model", Shared("bundle"), "--input", input, "--out", input}, "is the input"},
      {{"predict", "--model", Shared("bundle"), "--input", input, "--out", Path("./rows.tsv")},
       "is the input"},
      {{"predict", "--model", Shared("bundle"), "--input", input, "--out", Path("link.tsv")},
       "is the input"},
      // The rejects file is an output too.
      {{"predict", "--model", Shared("bundle"), "--input", Path("rows.tsv"), "--out", Path("rows"),
        "--on-error", "skip"},
       ""},
      {{"schema", "infer", input, "--out", Path("link.tsv")}, "is the input"},
  };
  fs::copy_file(input, Path("rows.rejects.tsv"));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[0] + " ... " + c.args.back());
    std::vector<std::string> args = c.args;
    if (c.mentions.empty())
      args[4] = Path("rows.rejects.tsv");
    const Result r = Exec(args);
    ExpectOneLineError(r, 2, c.mentions.empty() ? "the rejects file" : c.mentions);
    EXPECT_EQ(SlurpFile(input), rows);
    EXPECT_EQ(SlurpFile(Path("rows.rejects.tsv")), rows);
  }

  // A directory that is replaced as a whole must not hold the input.
  const std::string ds = Path("ds");
  fs::copy(Shared("ds"), ds, fs::copy_options::recursive);
  fs::copy_file(input, ds + "/raw.tsv");
  ExpectOneLineError(Exec({"etl", "--input", ds + "/raw.tsv", "--out", ds, "-q"}), 2,
                     "--input " + ds + "/raw.tsv is inside --out " + ds);
  EXPECT_EQ(SlurpFile(ds + "/raw.tsv"), rows);
  fs::create_directories(Path("r/dataset"));
  fs::copy_file(input, Path("r/dataset/raw.tsv"));
  std::ofstream(Path("r/run.yaml")) << "seed: 42\n";  // an earlier run's directory
  ExpectOneLineError(Exec({"run", "--data", Path("r/dataset/raw.tsv"), "--out", Path("r")}), 2,
                     "is inside the run's output " + Path("r/dataset"));
  EXPECT_EQ(SlurpFile(Path("r/dataset/raw.tsv")), rows);
  // dataset export must not write over the dataset's own files.
  const std::string schema = SlurpFile(ds + "/schema.json");
  ExpectOneLineError(Exec({"dataset", "export", ds, "--out", ds + "/schema.json"}), 2,
                     "is part of the input dataset");
  EXPECT_EQ(SlurpFile(ds + "/schema.json"), schema);
  // Nor may predict write into its bundle.
  const std::string bundle = Path("bundle");
  fs::copy(Shared("bundle"), bundle, fs::copy_options::recursive);
  ExpectOneLineError(
      Exec({"predict", "--model", bundle, "--input", input, "--out", bundle + "/metrics.json"}), 2,
      "is part of the input --model");
}

}  // namespace
