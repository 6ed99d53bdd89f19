#include "aiok/core/output_directory.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"

namespace aiok {
namespace {
namespace fs = std::filesystem;

// The pid of a process that has ended (a child that exited and was reaped).
pid_t DeadPid() {
  const pid_t child = fork();
  if (child == 0)
    _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return child;
}

class OutputDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_outdir_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(OutputDirectoryTest, TemporariesOfDeadProcessesAreRemovedByTheNextWriter) {
  // Issue 15, defect 4: what a killed run left stayed forever.
  const std::string dead = std::to_string(DeadPid());
  const std::string live = std::to_string(getppid());  // the test's parent runs
  fs::create_directories(Path("ds.tmp-" + dead));
  std::ofstream(Path("ds.tmp-" + dead + "/pass1.spill")) << std::string(1 << 16, 'x');
  fs::create_directories(Path("ds.old-" + dead));
  fs::create_directories(Path("ds.tmp-" + live));
  std::ofstream(Path("train.txt.tmp-" + dead)) << "half a file";
  std::ofstream(Path("ds.tmp-notapid")) << "not ours";
  std::ofstream(Path("dsx.tmp-" + dead)) << "another output's";
  {
    StagingDirectory staging(Path("ds"));
    EXPECT_FALSE(fs::exists(Path("ds.tmp-" + dead)));
    EXPECT_FALSE(fs::exists(Path("ds.old-" + dead)));
    EXPECT_TRUE(fs::exists(Path("ds.tmp-" + live))) << "a live process's output stays";
    EXPECT_TRUE(fs::exists(Path("ds.tmp-notapid")));
    EXPECT_TRUE(fs::exists(Path("dsx.tmp-" + dead))) << "only this output's temporaries go";
    staging.Publish();
  }
  EXPECT_TRUE(fs::is_directory(Path("ds")));
  EXPECT_TRUE(fs::exists(Path("train.txt.tmp-" + dead)));
  WriteFileAtomic(Path("train.txt"), "rows\n");
  EXPECT_FALSE(fs::exists(Path("train.txt.tmp-" + dead)));
  EXPECT_EQ(ReadFile(Path("train.txt")), "rows\n");
}

TEST_F(OutputDirectoryTest, StagingAppearsOnlyWhenPublishedAndReplacesWhole) {
  {
    StagingDirectory staging(Path("out"));
    std::ofstream(staging.path() + "/a") << "1";
    EXPECT_FALSE(fs::exists(Path("out")));
  }  // not published: nothing appears, nothing is left
  EXPECT_FALSE(fs::exists(Path("out")));
  EXPECT_FALSE(fs::exists(TemporaryPath(Path("out"))));
  {
    StagingDirectory staging(Path("out"));
    std::ofstream(staging.path() + "/b") << "2";
    staging.Publish();
  }
  EXPECT_TRUE(fs::exists(Path("out/b")));
  {
    StagingDirectory staging(Path("out"));
    std::ofstream(staging.path() + "/c") << "3";
    staging.Publish();
  }
  EXPECT_FALSE(fs::exists(Path("out/b"))) << "the earlier output is replaced whole";
  EXPECT_TRUE(fs::exists(Path("out/c")));
}

TEST_F(OutputDirectoryTest, RefusesToReplaceADirectoryOfAnotherKind) {
  fs::create_directories(Path("precious"));
  std::ofstream(Path("precious/notes.txt")) << "keep me";
  try {
    CheckReplaceable(Path("precious"), "schema.json", "a dataset directory");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("is not a dataset directory"), std::string::npos);
  }
  std::ofstream(Path("precious/schema.json")) << "{}";
  CheckReplaceable(Path("precious"), "schema.json", "a dataset directory");
  fs::create_directories(Path("empty"));
  CheckReplaceable(Path("empty"), "bundle.json", "a model bundle");
  CheckReplaceable(Path("absent"), "bundle.json", "a model bundle");
  std::ofstream(Path("file")) << "x";
  EXPECT_THROW(CheckReplaceable(Path("file"), "bundle.json", "a model bundle"), Error);
}

TEST_F(OutputDirectoryTest, AnOutputThatWouldReplaceItsInputIsRefused) {
  // Issue 15, defect 10: predict --out equal to --input replaced the input with predictions.
  const std::string input = Path("rows.tsv");
  std::ofstream(input) << "1\t2\n";
  auto refused = [](const std::string& in, const std::string& out, const std::string& mentions) {
    try {
      CheckOutputKeepsInput(in, "--input", out, "--out");
      ADD_FAILURE() << out << " was not refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
  };
  refused(input, input, "is the input --input");
  refused(input, (dir_ / "." / "rows.tsv").string(), "is the input");  // another spelling
  fs::create_hard_link(input, Path("link.tsv"));
  refused(input, Path("link.tsv"), "is the input");
  fs::create_symlink(input, Path("sym.tsv"));
  refused(input, Path("sym.tsv"), "is the input");
  // An output directory is replaced as a whole: the input must not be in it.
  refused(input, dir_.string(), "is inside --out");
  refused(input, dir_.string() + "/", "is inside --out");
  // An input directory (a dataset, a bundle) keeps its files.
  fs::create_directories(dir_ / "ds" / "train");
  std::ofstream(dir_ / "ds" / "train" / "part.bin") << "x";
  const std::string ds = Path("ds");
  refused(ds, Path("ds/train/part.bin"), "is part of the input");
  refused(ds, ds, "is the input");
  refused(ds, dir_.string(), "is inside --out");
  // Elsewhere, or a new file beside a dataset's, is fine; so is an input that does not exist.
  CheckOutputKeepsInput(input, "--input", Path("out.txt"), "--out");
  CheckOutputKeepsInput(input, "--input", Path("sub/out"), "--out");
  CheckOutputKeepsInput(ds, "dataset", Path("ds/export.tsv"), "--out");
  CheckOutputKeepsInput(Path("missing"), "--input", Path("missing"), "--out");
  CheckOutputKeepsInput(input, "--input", Path("rows.tsv2"), "--out");  // a prefix, not a parent
  CheckOutputKeepsInput("", "--schema", Path("out"), "--out");
}

}  // namespace
}  // namespace aiok
