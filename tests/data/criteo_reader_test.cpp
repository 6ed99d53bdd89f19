#include "aiok/data/criteo_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"
#include "batch_gathering.h"

namespace aiok::data {
namespace {
namespace fs = std::filesystem;

// A good 40-field line with recognizable values: I(k) = k, C(k) = k in hex.
std::string GoodLine(int label = 1) {
  std::string line = std::to_string(label);
  for (int d = 1; d <= kCriteoDense; ++d)
    line += "\t" + std::to_string(d);
  for (int c = 1; c <= kCriteoCategorical; ++c)
    line += fmt::format("\t{:08x}", c);
  return line + "\n";
}

class CriteoReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_reader_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    ctx_.threads = 2;
    ctx_.cancel = &token_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  // Reads a file, gathering every batch into one.
  CriteoBatch ReadAll(const std::string& path, CriteoReaderOptions options,
                      CriteoReadSummary* summary = nullptr) {
    CriteoBatch all;
    int64_t next_row = 0;
    const CriteoReadSummary s = ReadCriteoTsv(path, options, ctx_, [&](CriteoBatch& batch) {
      EXPECT_EQ(batch.first_row, next_row) << "batches arrive in file order";
      next_row += batch.rows;
      AppendBatch(batch, &all);
    });
    if (summary)
      *summary = s;
    return all;
  }

  // The message of the error a fail-mode read of `contents` throws.
  std::string FailMessage(const std::string& contents) {
    const std::string path = Write("bad.tsv", contents);
    try {
      ReadAll(path, CriteoReaderOptions{});
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no error for bad input";
    return "";
  }

  fs::path dir_;
  CancellationToken token_;
  RunContext ctx_;
};

TEST_F(CriteoReaderTest, NineteenDigitIntegersFitAndLargerOnesAreOutOfRange) {
  // Issue 15, defect 2: the int64 range has 19-digit values; the reader used to stop at 18.
  auto line_with = [](const std::string& i1, const std::string& i2) {
    std::string line = GoodLine();
    const size_t first = line.find('\t') + 1;
    const size_t second = line.find('\t', first) + 1;
    const size_t third = line.find('\t', second);
    return line.substr(0, first) + i1 + "\t" + i2 + line.substr(third);
  };
  const CriteoBatch batch = ReadAll(
      Write("big.tsv", line_with("9223372036854775807", "-9223372036854775807") +
                           line_with("1000000000000000000", "-1")),
      CriteoReaderOptions{});
  ASSERT_EQ(batch.rows, 2);
  EXPECT_EQ(batch.dense[0][0], INT64_MAX);
  EXPECT_EQ(batch.dense[1][0], -INT64_MAX);
  EXPECT_EQ(batch.dense[0][1], 1000000000000000000);
  EXPECT_EQ(batch.dense[1][1], -1);
  const std::string message = FailMessage(line_with("9223372036854775808", "1"));
  EXPECT_NE(message.find("bad.tsv:1:3: I1 (field 2 of 40): expected an integer above -2^63 and "
                         "below 2^63 (out of range)"),
            std::string::npos)
      << message;
}

TEST_F(CriteoReaderTest, ParsesValuesAndEmptyFields) {
  std::string second =
      "0\t\t-2" + std::string(11, '\t') + "\tABCDEF01" + std::string(25, '\t') + "\n";
  const auto batch = ReadAll(Write("a.tsv", GoodLine() + second), CriteoReaderOptions{});
  ASSERT_EQ(batch.rows, 2);
  EXPECT_EQ(batch.label, (UninitializedVector<uint8_t>{1, 0}));
  EXPECT_EQ(batch.dense[0][0], 1);
  EXPECT_EQ(batch.dense[12][0], 13);
  EXPECT_EQ(batch.category[25][0], 26);
  EXPECT_EQ(batch.dense[0][1], kMissingDense);
  EXPECT_EQ(batch.dense[1][1], -2);
  EXPECT_EQ(batch.category[0][1], 0xABCDEF01);
  EXPECT_EQ(batch.category[1][1], kMissingCategory);
}

TEST_F(CriteoReaderTest, GeneratedFileReadsIdenticallyWhateverRangesAndThreads) {
  CriteoGenerator generator;
  generator.options().rows = 3000;
  RunContext gen_ctx{7, 2, &token_};
  generator.Generate(gen_ctx, (dir_ / "gen").string());
  const std::string path = (dir_ / "gen" / "train.txt").string();
  CriteoReaderOptions whole;
  ctx_.threads = 1;
  CriteoReadSummary summary;
  const CriteoBatch reference = ReadAll(path, whole, &summary);
  EXPECT_EQ(reference.rows, 3000);
  EXPECT_EQ(summary.lines, 3000);
  EXPECT_TRUE(summary.has_label);
  // Small ranges put range boundaries inside lines, many times over.
  CriteoReaderOptions small;
  small.range_bytes = 1000;
  ctx_.threads = 3;
  const CriteoBatch ranged = ReadAll(path, small);
  EXPECT_EQ(ranged.label, reference.label);
  EXPECT_EQ(ranged.dense, reference.dense);
  EXPECT_EQ(ranged.category, reference.category);
}

TEST_F(CriteoReaderTest, LinesLongerThanARangeAreReadWhole) {
  // Lines of 20 kB (a bad field) among good ones, with ranges of 1000 bytes: a range's last
  // line runs far past the range and past the reader's usual read-ahead.
  std::string longline = GoodLine();
  longline.replace(longline.find("00000003"), 8, std::string(20000, 'z'));
  std::string contents;
  for (int i = 0; i < 30; ++i)
    contents += i % 7 == 3 ? longline : GoodLine(i % 2);
  CriteoReaderOptions options;
  options.range_bytes = 1000;
  options.on_error = OnError::kSkip;
  ctx_.threads = 3;
  CriteoReadSummary summary;
  const CriteoBatch batch = ReadAll(Write("long.tsv", contents), options, &summary);
  EXPECT_EQ(summary.lines, 30);
  EXPECT_EQ(summary.rows, 26);
  ASSERT_EQ(batch.rejects.size(), 4u);
  for (size_t i = 0; i < batch.rejects.size(); ++i) {
    EXPECT_EQ(batch.rejects[i].line, 4 + 7 * static_cast<int64_t>(i));
    EXPECT_NE(batch.rejects[i].reason.find("C3"), std::string::npos) << batch.rejects[i].reason;
  }
  for (int64_t r = 0; r < batch.rows; ++r)
    EXPECT_EQ(batch.category[25][r], 26) << r;
}

TEST_F(CriteoReaderTest, DetectsRowsWithoutLabel) {
  std::string line = GoodLine().substr(2);  // drop "1\t"
  CriteoReadSummary summary;
  const auto batch = ReadAll(Write("nolabel.tsv", line + line), CriteoReaderOptions{}, &summary);
  EXPECT_FALSE(summary.has_label);
  EXPECT_EQ(batch.rows, 2);
  EXPECT_TRUE(batch.label.empty());
  EXPECT_EQ(batch.dense[0][1], 1);
  EXPECT_NE(FailMessage("1\t2\t3\n").find("bad.tsv:1: expected 40 TAB-separated fields"),
            std::string::npos);
}

TEST_F(CriteoReaderTest, WrongFieldCountNamesLineAndCount) {
  std::string short_line = GoodLine();
  short_line = short_line.substr(0, short_line.rfind('\t')) + "\n";  // 39 fields
  const std::string message = FailMessage(GoodLine() + GoodLine() + short_line);
  EXPECT_NE(message.find("bad.tsv:3:"), std::string::npos) << message;
  EXPECT_NE(message.find("expected 40 TAB-separated fields, found 39"), std::string::npos)
      << message;
  const std::string extra =
      FailMessage(GoodLine() + GoodLine().substr(0, GoodLine().size() - 1) + "\tff\n");
  EXPECT_NE(extra.find("bad.tsv:2:"), std::string::npos) << extra;
  EXPECT_NE(extra.find("found 41"), std::string::npos) << extra;
}

TEST_F(CriteoReaderTest, NonIntegerNamesColumnAndField) {
  std::string line = GoodLine();
  line.replace(line.find("\t5\t"), 3, "\t5x\t");  // I5 is field 6, starting at column 11
  const std::string message = FailMessage(GoodLine() + line);
  EXPECT_NE(message.find("bad.tsv:2:11: I5 (field 6 of 40): expected an integer or an empty "
                         "field, found \"5x\""),
            std::string::npos)
      << message;
  EXPECT_NE(
      FailMessage("7" + GoodLine().substr(1)).find("label (field 1 of 40): expected label 0 or 1"),
      std::string::npos);
}

TEST_F(CriteoReaderTest, BadHexNamesColumnAndField) {
  std::string line = GoodLine();
  line.replace(line.find("00000003"), 8, "0000zz03");
  const std::string message = FailMessage(line);
  EXPECT_NE(message.find("bad.tsv:1:"), std::string::npos);
  EXPECT_NE(message.find("C3 (field 17 of 40): expected up to 8 hex digits or an empty field, "
                         "found \"0000zz03\""),
            std::string::npos)
      << message;
  std::string too_long = GoodLine();
  too_long.replace(too_long.find("00000003"), 8, "000000003");
  EXPECT_NE(FailMessage(too_long).find("C3"), std::string::npos);
}

TEST_F(CriteoReaderTest, CrlfLineEndingsAreNamed) {
  std::string line = GoodLine();
  line.insert(line.size() - 1, "\r");
  const std::string message = FailMessage(line);
  EXPECT_NE(message.find("bad.tsv:1:"), std::string::npos);
  EXPECT_NE(message.find("expected LF line endings, found CR LF"), std::string::npos) << message;
}

TEST_F(CriteoReaderTest, TruncatedLastLineIsAnError) {
  const std::string good = GoodLine();
  const std::string message = FailMessage(good + good.substr(0, 30));
  EXPECT_NE(message.find("bad.tsv:2:"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST_F(CriteoReaderTest, EmptyAndMissingFiles) {
  EXPECT_NE(FailMessage("").find("bad.tsv: file is empty"), std::string::npos);
  try {
    ReadAll((dir_ / "nope.tsv").string(), CriteoReaderOptions{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("nope.tsv"), std::string::npos);
  }
}

TEST_F(CriteoReaderTest, SkipModeReportsEveryRejectWithItsLine) {
  std::string bad_int = GoodLine();
  bad_int.replace(bad_int.find("\t5\t"), 3, "\tfive\t");
  std::string crlf = GoodLine();
  crlf.insert(crlf.size() - 1, "\r");
  const std::string contents = GoodLine(0) + bad_int + GoodLine(1) + "0\t1\t2\n" + crlf +
                               GoodLine(0) + GoodLine().substr(0, 20);
  CriteoReaderOptions options;
  options.on_error = OnError::kSkip;
  options.range_bytes = 300;  // rejects spread over several batches
  CriteoReadSummary summary;
  const auto batch = ReadAll(Write("mixed.tsv", contents), options, &summary);
  EXPECT_EQ(summary.lines, 7);
  EXPECT_EQ(summary.rows, 3);
  EXPECT_EQ(summary.rejected, 4);
  EXPECT_EQ(batch.label, (UninitializedVector<uint8_t>{0, 1, 0}));
  ASSERT_EQ(batch.rejects.size(), 4u);
  EXPECT_EQ(batch.rejects[0].line, 2);
  EXPECT_NE(batch.rejects[0].reason.find("I5"), std::string::npos);
  EXPECT_EQ(batch.rejects[1].line, 4);
  EXPECT_NE(batch.rejects[1].reason.find("found 3"), std::string::npos);
  EXPECT_EQ(batch.rejects[2].line, 5);
  EXPECT_NE(batch.rejects[2].reason.find("CR LF"), std::string::npos);
  EXPECT_EQ(batch.rejects[3].line, 7);
  EXPECT_NE(batch.rejects[3].reason.find("truncated"), std::string::npos);
}

TEST_F(CriteoReaderTest, FailModeReportsTheFirstBadLineInFileOrder) {
  // Bad lines in several ranges parsed in parallel: the error names the earliest.
  std::string contents;
  for (int i = 0; i < 200; ++i)
    contents += GoodLine();
  std::string bad = GoodLine();
  bad.replace(bad.find("00000003"), 8, "xx");
  contents += bad;
  for (int i = 0; i < 200; ++i)
    contents += (i % 50 == 0 ? bad : GoodLine());
  const std::string path = Write("late.tsv", contents);
  CriteoReaderOptions options;
  options.range_bytes = 2000;
  ctx_.threads = 4;
  try {
    ReadAll(path, options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("late.tsv:201:"), std::string::npos) << e.what();
  }
}

TEST_F(CriteoReaderTest, ConcurrentCallbackSeesEveryBatchOnceAfterItsOrderedCommit) {
  std::string contents;
  for (int i = 0; i < 500; ++i)
    contents += GoodLine(i % 2);
  CriteoReaderOptions options;
  options.range_bytes = 4096;
  ctx_.threads = 3;
  std::mutex mutex;
  std::vector<int64_t> committed_first_rows;         // in in_order order
  std::map<int64_t, int64_t> concurrent_first_rows;  // index -> first row
  const auto summary = ReadCriteoTsv(
      Write("c.tsv", contents), options, ctx_,
      [&](CriteoBatch& batch) { committed_first_rows.push_back(batch.first_row); },
      [&](CriteoBatch& batch, int64_t index) {
        std::lock_guard<std::mutex> lock(mutex);
        EXPECT_EQ(concurrent_first_rows.count(index), 0u);
        concurrent_first_rows[index] = batch.first_row;
      });
  EXPECT_EQ(summary.rows, 500);
  const int64_t batches = CriteoBatchCount(summary.bytes, options);
  ASSERT_EQ(static_cast<int64_t>(committed_first_rows.size()), batches);
  ASSERT_EQ(static_cast<int64_t>(concurrent_first_rows.size()), batches);
  for (int64_t i = 0; i < batches; ++i) {
    EXPECT_EQ(concurrent_first_rows[i], committed_first_rows[i]) << "batch " << i;
  }
}

TEST(ParseOnError, AcceptsFailAndSkipOnly) {
  EXPECT_EQ(ParseOnError("fail"), OnError::kFail);
  EXPECT_EQ(ParseOnError("skip"), OnError::kSkip);
  EXPECT_THROW(ParseOnError("ignore"), Error);
}

}  // namespace
}  // namespace aiok::data
