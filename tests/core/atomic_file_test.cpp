#include "aiok/core/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "aiok/core/error.h"

namespace aiok {
namespace {
namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_atomic_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(AtomicFileTest, CommitRenamesCompleteFile) {
  const std::string path = (dir_ / "out.txt").string();
  {
    AtomicFileWriter writer(path);
    writer.Write("hello ");
    EXPECT_FALSE(fs::exists(path)) << "target must not appear before Commit";
    EXPECT_TRUE(fs::exists(writer.temp_path()));
    writer.Write("world");
    writer.Commit();
    EXPECT_FALSE(fs::exists(writer.temp_path()));
  }
  EXPECT_EQ(ReadFile(path), "hello world");
}

TEST_F(AtomicFileTest, AbandonedWriteLeavesOldFileAndNoTemporary) {
  const std::string path = (dir_ / "out.txt").string();
  WriteFileAtomic(path, "old");
  std::string temp;
  {
    AtomicFileWriter writer(path);
    temp = writer.temp_path();
    writer.Write("new but unfinished");
  }
  EXPECT_EQ(ReadFile(path), "old");
  EXPECT_FALSE(fs::exists(temp));
}

TEST_F(AtomicFileTest, UnwritableDirectoryIsAnIoErrorNamingThePath) {
  try {
    AtomicFileWriter writer((dir_ / "missing" / "out.txt").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("missing/out.txt"), std::string::npos);
  }
  EXPECT_THROW(ReadFile((dir_ / "nope").string()), Error);
}

}  // namespace
}  // namespace aiok
