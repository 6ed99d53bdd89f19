// The `aiok` binary run as a user runs it: exit codes and messages.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "aiok/core/atomic_file.h"

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
  for (const char* flag :
       {"--rows", "--card-scale", "--pos-rate", "--out", "--seed", "--threads"}) {
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
  const RunResult r =
      Run("datagen criteo --rows 2000 --seed 5 --threads 2 -q --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "train.txt"));
  EXPECT_EQ(fs::file_size(out / "truth.f32"), 2000u * 4u);
  EXPECT_TRUE(fs::exists(out / "datagen.json"));
  EXPECT_NE(r.out.find("Bayes-optimal AUC"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "") << "--quiet prints nothing on success";
}

TEST_F(CliTest, EtlAndDatasetCommandsEndToEnd) {
  const std::string raw = (dir_ / "raw").string();
  const std::string ds = (dir_ / "ds").string();
  ASSERT_EQ(Run("datagen criteo --rows 3000 -q --out " + raw).exit_code, 0);
  const RunResult etl = Run("etl --input " + raw + "/train.txt --out " + ds + " -q");
  ASSERT_EQ(etl.exit_code, 0) << etl.err;
  EXPECT_NE(etl.out.find("etl: 3000 rows (0 rejected)"), std::string::npos) << etl.out;
  const RunResult info = Run("dataset info " + ds);
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_NE(info.out.find("valid     214 rows"), std::string::npos) << info.out;
  const RunResult head = Run("dataset head " + ds + " --split valid -n 2");
  EXPECT_EQ(head.exit_code, 0);
  EXPECT_EQ(std::count(head.out.begin(), head.out.end(), '\n'), 3) << head.out;
  EXPECT_EQ(head.out.rfind("label\tI1\t", 0), 0u) << head.out;
  for (const char* format : {"tsv", "parquet"}) {
    const std::string out = (dir_ / (std::string("test.") + format)).string();
    const RunResult exported =
        Run("dataset export " + ds + " --split test --format " + format + " --out " + out);
    EXPECT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_TRUE(fs::exists(out)) << format;
  }
  ExpectUsageError("dataset head " + ds + " --split nope", "--split");
  // A memory budget too small for any batch: every batch goes through the spill file, and
  // the dataset comes out the same, without the spill file.
  const std::string spilled = (dir_ / "spilled").string();
  ASSERT_EQ(
      Run("etl --input " + raw + "/train.txt --out " + spilled + " -q --memory-mb 1").exit_code, 0);
  for (const char* file : {"train/part-00000.cat.i32", "test/part-00000.dense.f32",
                           "valid/part-00000.label.u8", "etl_state/pipeline.json"}) {
    EXPECT_EQ(Slurp(ds + "/" + file), Slurp(spilled + "/" + file)) << file;
  }
  EXPECT_FALSE(fs::exists(spilled + "/pass1.spill"));
  const RunResult not_dataset = Run("dataset info " + raw);
  EXPECT_EQ(not_dataset.exit_code, 1);
  EXPECT_NE(not_dataset.err.find("not a dataset directory"), std::string::npos);
}

TEST_F(CliTest, EtlUsageAndInputErrors) {
  ExpectUsageError("etl --out x", "--input");
  ExpectUsageError("etl --input x --out y --preset nope", "--preset");
  ExpectUsageError("etl --input x --out y --on-error ignore", "--on-error");
  std::ofstream(dir_ / "p.yaml") << "steps:\n  - columns: [I1..I13]\n    ops: [log1p]\n";
  // A Criteo file whose last line is bad: its layout is recognised from the good lines.
  const std::string raw = (dir_ / "raw").string();
  ASSERT_EQ(Run("datagen criteo --rows 50 -q --out " + raw).exit_code, 0);
  const std::string in = (dir_ / "in.txt").string();
  fs::copy_file(raw + "/train.txt", in);
  { std::ofstream(in, std::ios::app) << "1\t2\n"; }
  ExpectUsageError("etl --input " + in + " --out y --pipeline " + (dir_ / "p.yaml").string() +
                       " --freq-threshold 5",
                   "--freq-threshold goes with --preset");
  ExpectUsageError("etl --input " + in + " --out " + (dir_ / "o").string() + " --pipeline " +
                       (dir_ / "p.yaml").string(),
                   "needs fill_missing");
  const RunResult missing =
      Run("etl --input " + (dir_ / "nope.txt").string() + " --out " + (dir_ / "o").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.txt"), std::string::npos) << missing.err;
  const RunResult bad = Run("etl --input " + in + " --out " + (dir_ / "o").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("in.txt:51:"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  // A table without a label field: the error says how to name one.
  std::ofstream(dir_ / "nolabel.csv") << "a,b\n1,x\n2,y\n";
  ExpectUsageError("etl --input " + (dir_ / "nolabel.csv").string() + " --out " +
                       (dir_ / "o").string(),
                   "no field has the role label; name it with --label");
  ExpectUsageError("etl --input " + (dir_ / "nolabel.csv").string() + " --label bb --out " +
                       (dir_ / "o").string(),
                   "did you mean 'b'");
}

TEST_F(CliTest, AnEtlThatRejectsEveryLineFails) {
  // Issue 15, defect 1: a run that keeps no row used to exit 0 with an empty dataset.
  const std::string raw = (dir_ / "raw").string();
  ASSERT_EQ(Run("datagen criteo --rows 200 -q --out " + raw).exit_code, 0);
  const RunResult schema = Run("schema infer " + raw + "/train.txt");
  ASSERT_EQ(schema.exit_code, 0) << schema.err;
  std::ofstream(dir_ / "criteo.yaml") << schema.out;
  // Every line's I1 is not an integer.
  std::string bad;
  std::ifstream in(raw + "/train.txt");
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.find('\t');
    bad += line.substr(0, tab) + "\tx" + line.substr(line.find('\t', tab + 1)) + "\n";
  }
  std::ofstream(dir_ / "bad.tsv") << bad;
  const RunResult r = Run("etl --input " + (dir_ / "bad.tsv").string() + " --schema " +
                          (dir_ / "criteo.yaml").string() + " --out " + (dir_ / "o").string() +
                          " --on-error skip -q");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no rows to learn from: 200 of 200 records were rejected; the first: "
                       "line 1: column 3: I1 (field 2 of 40): expected an integer, found \"x\""),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  // A file of blank lines holds no record at all.
  std::ofstream(dir_ / "blank.tsv") << "\n\n";
  const RunResult blank = Run("etl --input " + (dir_ / "blank.tsv").string() + " --schema " +
                              (dir_ / "criteo.yaml").string() + " --out " + (dir_ / "o").string());
  EXPECT_EQ(blank.exit_code, 1) << blank.err;
  EXPECT_NE(blank.err.find("no rows to learn from: 0 of 0 records"), std::string::npos) << blank.err;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
}

TEST_F(CliTest, CrlfCriteoLinesAreReadLikeLfOnes) {
  const std::string raw = (dir_ / "raw").string();
  ASSERT_EQ(Run("datagen criteo --rows 300 -q --out " + raw).exit_code, 0);
  std::string crlf;
  std::ifstream in(raw + "/train.txt");
  for (std::string line; std::getline(in, line);)
    crlf += line + "\r\n";
  std::ofstream(dir_ / "crlf.tsv") << crlf;
  ASSERT_EQ(Run("etl --input " + raw + "/train.txt --out " + (dir_ / "lf").string() + " -q").exit_code, 0);
  const RunResult r = Run("etl --input " + (dir_ / "crlf.tsv").string() + " --out " +
                          (dir_ / "crlf").string() + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* split : {"train", "valid", "test"}) {
    for (const auto& entry : fs::directory_iterator(dir_ / "lf" / split)) {
      const fs::path twin = dir_ / "crlf" / split / entry.path().filename();
      EXPECT_EQ(aiok::ReadFile(entry.path().string()), aiok::ReadFile(twin.string())) << twin;
    }
  }
}

TEST_F(CliTest, EtlSkipModeReportsRejects) {
  const std::string raw = (dir_ / "raw").string();
  ASSERT_EQ(Run("datagen criteo --rows 500 -q --out " + raw).exit_code, 0);
  { std::ofstream(raw + "/train.txt", std::ios::app) << "1\tnot a row\n"; }
  const std::string ds = (dir_ / "ds").string();
  const RunResult r = Run("etl --input " + raw + "/train.txt --out " + ds + " --on-error skip -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("500 rows (1 rejected, see " + ds + "/rejects.tsv)"), std::string::npos)
      << r.out;
  std::ifstream rejects(ds + "/rejects.tsv");
  std::stringstream text;
  text << rejects.rdbuf();
  EXPECT_NE(text.str().find("501\tcolumn"), std::string::npos) << text.str();
}

TEST_F(CliTest, TrainRunsThroughTheLibtorchPlugin) {
  const std::string raw = (dir_ / "raw").string();
  const std::string ds = (dir_ / "ds").string();
  const std::string model = (dir_ / "model").string();
  ASSERT_EQ(Run("datagen criteo --rows 5000 --card-scale 0.001 -q --out " + raw).exit_code, 0);
  ASSERT_EQ(Run("etl --input " + raw + "/train.txt --out " + ds + " -q").exit_code, 0);
  const RunResult help = Run("train --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--target-auc"), std::string::npos) << help.out;
  const RunResult r = Run("train --data " + ds + " --out " + model +
                          " --preset dlrm-tiny --batch-size 128 --max-steps 20 -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("train: 20 steps"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir_ / "model" / "metrics.json"));
  ExpectUsageError("train --out " + model, "--data");
  ExpectUsageError("train --data " + ds + " --out " + model + " --optimizer rmsprop",
                   "--optimizer");
  const RunResult not_dataset = Run("train --data " + raw + " --out " + model);
  EXPECT_EQ(not_dataset.exit_code, 1);
  EXPECT_NE(not_dataset.err.find("not a dataset directory"), std::string::npos) << not_dataset.err;
}

TEST_F(CliTest, TrainingIsRefusedWhenASplitHasOneLabelOnly) {
  // Issue 15, defect 1: a dataset that cannot be learned or scored trained anyway, to an AUC
  // of nan. 400 rows split in halves/quarters; the first half has both labels.
  auto write = [&](const std::string& name, int tail_label) {
    std::string csv = "y,x,c\n";
    for (int r = 0; r < 400; ++r) {
      const int y = r < 200 ? r % 2 : tail_label;
      csv += std::to_string(y) + "," + std::to_string(r % 7) + ".5,k" + std::to_string(r % 5) + "\n";
    }
    std::ofstream(dir_ / name) << csv;
  };
  write("tail_zero.csv", 0);
  const std::string ds = (dir_ / "ds").string();
  ASSERT_EQ(Run("etl --input " + (dir_ / "tail_zero.csv").string() + " --out " + ds +
                " --split fractions:0.5,0.25 -q")
                .exit_code,
            0);
  const RunResult r = Run("train --data " + ds + " --out " + (dir_ / "m").string() +
                          " --preset dlrm-tiny --batch-size 32 -q");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("every one of the 100 rows of the valid split has label 0"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "m" / "model.pt"));
}

TEST_F(CliTest, TrainListsTheModelsAndBindsTheChosenModelsOptions) {
  const RunResult list = Run("train --list-models");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("dlrm: DLRM"), std::string::npos) << list.out;
  for (const char* option : {"--preset TEXT", "--emb-dim INT", "--mlp-bot", "--mlp-top",
                             "--interaction", "--pooling"}) {
    EXPECT_NE(list.out.find(option), std::string::npos) << option << "\n" << list.out;
  }
  EXPECT_NE(list.out.find("default dlrm-kaggle; one of dlrm-kaggle, dlrm-small, dlrm-tiny"),
            std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("default 0; 0 to 4096"), std::string::npos) << list.out;
  // The chosen model's options are flags of its own.
  const RunResult help = Run("train --model dlrm --help");
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const char* flag : {"--emb-dim", "--pooling", "--list-models"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << "\n" << help.out;
  ExpectUsageError("train --model gbdt --data d --out o", "gbdt not in {");
  EXPECT_NE(list.out.find("wnd: Wide&Deep"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("--wide-update TEXT"), std::string::npos) << list.out;
  ExpectUsageError("train --data d --out o --pooling max", "--pooling");
}

TEST_F(CliTest, EtlListsTheOperatorsWithWhatTheyReadWriteAndTheirOptions) {
  const RunResult list = Run("etl --list-operators");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  for (const char* part :
       {"target_encode: reads categorical values, writes dense values; fitted on train rows and "
        "labels; train rows encoded out of fold",
        "  folds INT", "(default 5; 1 to 1000)", "count_encode: reads categorical values",
        "hashed_cross: reads 2+ columns", "categorify: reads categorical values",
        "  freq_threshold INT", "(default 1; at least 1)", "  vocabulary TEXT"}) {
    EXPECT_NE(list.out.find(part), std::string::npos) << part << "\n" << list.out;
  }
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
  for (const auto& entry : fs::directory_iterator(out))
    ADD_FAILURE() << "left " << entry.path();
}

}  // namespace
