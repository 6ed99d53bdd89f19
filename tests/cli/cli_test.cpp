// The `aiok` binary run as a user runs it: exit codes and messages.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {
namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_cli_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunResult Run(const std::string& args) {
    // `args` may go on with more shell after the command (see the interrupt test); the braces
    // send all of its output to the files.
    const std::string command = "{ " + std::string(AIOK_BINARY) + " " + args + "; } >" +
                                (dir_ / "out").string() + " 2>" + (dir_ / "err").string() +
                                " </dev/null";
    const int status = std::system(command.c_str());
    RunResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = Slurp(dir_ / "out");
    result.err = Slurp(dir_ / "err");
    return result;
  }

  void ExpectUsageError(const std::string& args, const std::string& mentions) {
    const RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << "aiok " << args << "\n" << r.err;
    EXPECT_NE(r.err.find(mentions), std::string::npos)
        << "aiok " << args << ": stderr should mention '" << mentions << "':\n"
        << r.err;
  }

  fs::path dir_;
};

TEST_F(CliTest, MissingCommandWordIsAUsageErrorListingTheChoices) {
  ExpectUsageError("", "needs one of: datagen");
  ExpectUsageError("datagen", "needs one of: criteo");
}

TEST_F(CliTest, UnknownSubcommandOrFlagIsAUsageError) {
  ExpectUsageError("frobnicate", "frobnicate");
  ExpectUsageError("datagen nosuch --out x", "nosuch");
  ExpectUsageError("datagen criteo --out x --bogus 1", "--bogus");
}

TEST_F(CliTest, MissingOrBadFlagValuesAreUsageErrors) {
  ExpectUsageError("datagen criteo", "--out");
  ExpectUsageError("datagen criteo --out x --rows 0", "--rows");
  ExpectUsageError("datagen criteo --out x --rows ten", "--rows");
  ExpectUsageError("datagen criteo --out x --pos-rate 1.5", "--pos-rate");
  ExpectUsageError("datagen criteo --out x --threads 0", "--threads");
}

TEST_F(CliTest, HelpListsTheFlagsAndExitsZero) {
  const RunResult top = Run("--help");
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("datagen"), std::string::npos);
  const RunResult r = Run("datagen criteo --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--rows", "--card-scale", "--pos-rate", "--out", "--seed", "--threads"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " missing from help:\n" << r.out;
  }
}

TEST_F(CliTest, RuntimeErrorIsExitOneWithOneLineCause) {
  std::ofstream(dir_ / "file") << "not a directory";
  const RunResult r = Run("datagen criteo --rows 10 --out " + (dir_ / "file" / "sub").string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot create directory"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(CliTest, DatagenWritesTheDirectoryAndSummarizes) {
  const fs::path out = dir_ / "data";
  const RunResult r = Run("datagen criteo --rows 2000 --seed 5 --threads 2 -q --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "train.txt"));
  EXPECT_EQ(fs::file_size(out / "truth.f32"), 2000u * 4u);
  EXPECT_TRUE(fs::exists(out / "datagen.json"));
  EXPECT_NE(r.out.find("Bayes-optimal AUC"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "") << "--quiet prints nothing on success";
}

TEST_F(CliTest, InterruptLeavesNoFileThatLooksComplete) {
  // SIGINT half a second into a long run: exit 130, and neither the data files nor the
  // manifest (nor any temporary) are left behind.
  const fs::path out = dir_ / "interrupted";
  const RunResult r = Run("datagen criteo --rows 200000000 --threads 2 --out " + out.string() +
                          " & pid=$!; sleep 0.5; kill -INT $pid; wait $pid");
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(out)) << "the run should have started writing";
  for (const auto& entry : fs::directory_iterator(out)) ADD_FAILURE() << "left " << entry.path();
}

}  // namespace
