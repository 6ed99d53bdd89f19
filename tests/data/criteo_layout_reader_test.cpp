// Criteo's header-less TSV (CriteoTableSchema) through the generic text reader: what the
// Criteo-only reader's tests checked, against ReadTextTable and ParseTextTable.
#include "aiok/data/text_table_reader.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/data/criteo_layout.h"
#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "table_gathering.h"

namespace aiok::data {
namespace {
namespace fs = std::filesystem;

// Schema field indices: label, I1..I13, C1..C26.
constexpr size_t kLabel = 0;
constexpr size_t I(int k) { return static_cast<size_t>(k); }
constexpr size_t C(int k) { return static_cast<size_t>(kCriteoDense + k); }

// A good 40-field line with recognizable values: I(k) = k, C(k) = k in hex.
std::string GoodLine(int label = 1) {
  std::string line = std::to_string(label);
  for (int d = 1; d <= kCriteoDense; ++d)
    line += "\t" + std::to_string(d);
  for (int c = 1; c <= kCriteoCategorical; ++c)
    line += fmt::format("\t{:08x}", c);
  return line + "\n";
}

// The 1-based character column where 0-based field `field` of `line` starts.
int64_t ColumnOf(const std::string& line, int field) {
  size_t pos = 0;
  for (int f = 0; f < field; ++f)
    pos = line.find('\t', pos) + 1;
  return static_cast<int64_t>(pos) + 1;
}

// `line` with 0-based field `field` replaced by `value`.
std::string WithField(const std::string& line, int field, const std::string& value) {
  const size_t begin = static_cast<size_t>(ColumnOf(line, field) - 1);
  size_t end = line.find_first_of("\t\n", begin);
  if (end == std::string::npos)
    end = line.size();
  return line.substr(0, begin) + value + line.substr(end);
}

class CriteoLayoutReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_criteo_layout_" + std::to_string(getpid()));
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

  // Reads a file, gathering every batch.
  GatheredTable ReadAll(const std::string& path, const TextReadOptions& options,
                        TextReadSummary* summary = nullptr,
                        const TableSchema& schema = CriteoTableSchema(true)) {
    GatheredTable all;
    const TextReadSummary s =
        ReadTextTable(path, schema, options, ctx_, [&](TableBatch& batch) { all.Append(batch); });
    EXPECT_EQ(s.rows, all.rows);
    EXPECT_EQ(s.rejected, static_cast<int64_t>(all.rejects.size()));
    EXPECT_EQ(s.records, s.rows + s.rejected);
    if (summary)
      *summary = s;
    return all;
  }

  // The message of the error a fail-mode read of `contents` throws.
  std::string FailMessage(const std::string& contents, const TextReadOptions& options = {}) {
    const std::string path = Write("bad.tsv", contents);
    try {
      ReadAll(path, options);
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

TEST_F(CriteoLayoutReaderTest, NineteenDigitIntegersFitAndLargerOnesAreOutOfRange) {
  // Issue 15, defect 2: the int64 range has 19-digit values; the fast path stops at 18 digits
  // and must hand longer ones to the full parser rather than reject them.
  auto line_with = [](const std::string& i1, const std::string& i2) {
    return WithField(WithField(GoodLine(), 1, i1), 2, i2);
  };
  const GatheredTable batch = ReadAll(
      Write("big.tsv", line_with("9223372036854775807", "-9223372036854775808") +
                           line_with("1000000000000000000", "-1") +
                           line_with("-1000000000000000000", "+7")),
      TextReadOptions{});
  ASSERT_EQ(batch.rows, 3);
  EXPECT_EQ(batch.ints[I(1)][0], INT64_MAX);
  EXPECT_EQ(batch.ints[I(2)][0], INT64_MIN);
  EXPECT_EQ(batch.ints[I(1)][1], 1000000000000000000);
  EXPECT_EQ(batch.ints[I(2)][1], -1);
  EXPECT_EQ(batch.ints[I(1)][2], -1000000000000000000);
  EXPECT_EQ(batch.ints[I(2)][2], 7);
  std::string message = FailMessage(line_with("9223372036854775808", "1"));
  EXPECT_NE(message.find("bad.tsv:1:3: I1 (field 2 of 40): expected a value in range, found "
                         "\"9223372036854775808\""),
            std::string::npos)
      << message;
  message = FailMessage(line_with("1", "-9223372036854775809"));
  EXPECT_NE(message.find("bad.tsv:1:5: I2 (field 3 of 40): expected a value in range"),
            std::string::npos)
      << message;
  message = FailMessage(line_with("99999999999999999999", "1"));
  EXPECT_NE(message.find("I1 (field 2 of 40): expected a value in range"), std::string::npos)
      << message;
}

TEST_F(CriteoLayoutReaderTest, ParsesValuesAndEmptyFields) {
  const std::string second =
      "0\t\t-2" + std::string(11, '\t') + "\tABCDEF01" + std::string(25, '\t') + "\n";
  const std::string all_missing = "1" + std::string(39, '\t') + "\n";
  const GatheredTable batch =
      ReadAll(Write("a.tsv", GoodLine() + second + all_missing), TextReadOptions{});
  ASSERT_EQ(batch.rows, 3);
  EXPECT_EQ(batch.ints[kLabel], (std::vector<std::optional<int64_t>>{1, 0, 1}));
  EXPECT_EQ(batch.ints[I(1)][0], 1);
  EXPECT_EQ(batch.ints[I(13)][0], 13);
  EXPECT_EQ(batch.uints[C(26)][0], 26u);
  EXPECT_EQ(batch.ints[I(1)][1], std::nullopt);
  EXPECT_EQ(batch.ints[I(2)][1], -2);
  EXPECT_EQ(batch.uints[C(1)][1], 0xABCDEF01u);
  EXPECT_EQ(batch.uints[C(2)][1], std::nullopt);
  for (int d = 1; d <= kCriteoDense; ++d)
    EXPECT_EQ(batch.ints[I(d)][2], std::nullopt) << "I" << d;
  for (int c = 1; c <= kCriteoCategorical; ++c)
    EXPECT_EQ(batch.uints[C(c)][2], std::nullopt) << "C" << c;
}

TEST_F(CriteoLayoutReaderTest, GeneratedFileReadsIdenticallyWhateverRangesAndThreads) {
  CriteoGenerator generator;
  generator.options().rows = 3000;
  RunContext gen_ctx{7, 2, &token_};
  generator.Generate(gen_ctx, (dir_ / "gen").string());
  const std::string path = (dir_ / "gen" / "train.txt").string();
  const TableSchema schema = CriteoTableSchema(true);
  ctx_.threads = 1;
  TextReadSummary summary;
  const GatheredTable reference = ReadAll(path, TextReadOptions{}, &summary);
  EXPECT_EQ(reference.rows, 3000);
  EXPECT_EQ(summary.records, 3000);
  EXPECT_EQ(summary.rejected, 0);
  EXPECT_EQ(summary.bytes, static_cast<int64_t>(fs::file_size(path)));
  EXPECT_GT(CountMissing(reference), 0) << "the comparison should cover missing values";
  // Small ranges put range boundaries inside lines, many times over.
  for (const auto& [range, threads] : std::vector<std::pair<int64_t, int>>{
           {1000, 3}, {97, 2}, {4096, 4}, {int64_t{1} << 30, 2}}) {
    TextReadOptions small;
    small.range_bytes = range;
    ctx_.threads = threads;
    ExpectSameColumns(ReadAll(path, small), reference, schema,
                      fmt::format("range {} threads {}", range, threads));
  }
  // The in-memory parser (serving's) reads the same rows.
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TableBatch parsed;
  ParseTextTable(text, schema, OnError::kFail, "train.txt", &parsed);
  GatheredTable from_memory;
  from_memory.Append(parsed);
  ExpectSameColumns(from_memory, reference, schema, "ParseTextTable");
}

TEST_F(CriteoLayoutReaderTest, LinesLongerThanARangeAreReadWhole) {
  // Lines of 20 kB (a bad field) among good ones, with ranges of 1000 bytes: a range's last
  // line runs far past the range and past the reader's usual read-ahead.
  const std::string longline = WithField(GoodLine(), 16, std::string(20000, 'z'));  // C3
  std::string contents;
  for (int i = 0; i < 30; ++i)
    contents += i % 7 == 3 ? longline : GoodLine(i % 2);
  TextReadOptions options;
  options.range_bytes = 1000;
  options.on_error = OnError::kSkip;
  ctx_.threads = 3;
  TextReadSummary summary;
  const GatheredTable batch = ReadAll(Write("long.tsv", contents), options, &summary);
  EXPECT_EQ(summary.records, 30);
  EXPECT_EQ(summary.rows, 26);
  EXPECT_EQ(summary.rejected, 4);
  ASSERT_EQ(batch.rejects.size(), 4u);
  for (size_t i = 0; i < batch.rejects.size(); ++i) {
    EXPECT_EQ(batch.rejects[i].line, 4 + 7 * static_cast<int64_t>(i));
    EXPECT_EQ(batch.rejects[i].record, 4 + 7 * static_cast<int64_t>(i));
    EXPECT_NE(batch.rejects[i].reason.find("C3 (field 17 of 40): expected up to 16 hex digits"),
              std::string::npos)
        << batch.rejects[i].reason;
  }
  for (int64_t r = 0; r < batch.rows; ++r)
    EXPECT_EQ(batch.uints[C(26)][static_cast<size_t>(r)], 26u) << r;

  // Good lines each longer than a range: every range but the ones where a line starts is
  // empty, and the rows are the same as from one range.
  std::string good;
  for (int i = 0; i < 40; ++i)
    good += WithField(GoodLine(i % 2), 1, std::to_string(i));
  const std::string path = Write("good.tsv", good);
  const GatheredTable whole = ReadAll(path, TextReadOptions{});
  ASSERT_EQ(whole.rows, 40);
  for (int64_t range : {16, 100}) {
    TextReadOptions tiny;
    tiny.range_bytes = range;
    ExpectSameColumns(ReadAll(path, tiny), whole, CriteoTableSchema(true),
                      fmt::format("range {}", range));
  }
}

TEST_F(CriteoLayoutReaderTest, RowsWithoutLabelReadWithTheLabellessSchema) {
  // The old reader guessed whether a file had the label; the caller now says which schema.
  const std::string line = GoodLine().substr(2);  // drop "1\t"
  const TableSchema unlabelled = CriteoTableSchema(false);
  ASSERT_EQ(unlabelled.fields.size(), 39u);
  TextReadSummary summary;
  const GatheredTable batch =
      ReadAll(Write("nolabel.tsv", line + line), TextReadOptions{}, &summary, unlabelled);
  EXPECT_EQ(batch.rows, 2);
  EXPECT_EQ(batch.ints[0][1], 1);  // I1
  EXPECT_EQ(batch.uints[38][1], 26u);  // C26
  // A labelled file read as unlabelled, and the other way round, is a field-count error.
  const std::string message = FailMessage(line);
  EXPECT_NE(message.find("bad.tsv:1:" + std::to_string(line.size()) +
                         ": expected 40 fields, found 39"),
            std::string::npos)
      << message;
  EXPECT_NE(FailMessage("1\t2\t3\n").find("bad.tsv:1:6: expected 40 fields, found 3"),
            std::string::npos);
}

TEST_F(CriteoLayoutReaderTest, WrongFieldCountNamesLineColumnAndCount) {
  std::string short_line = GoodLine();
  short_line = short_line.substr(0, short_line.rfind('\t')) + "\n";  // 39 fields
  const std::string message = FailMessage(GoodLine() + GoodLine() + short_line);
  EXPECT_NE(message.find(fmt::format("bad.tsv:3:{}: expected 40 fields, found 39",
                                     short_line.size())),
            std::string::npos)
      << message;
  const std::string long_line = GoodLine().substr(0, GoodLine().size() - 1) + "\tff\n";
  const std::string extra = FailMessage(GoodLine() + long_line);
  EXPECT_NE(extra.find(fmt::format("bad.tsv:2:{}: expected 40 fields, found 41",
                                   long_line.rfind('\t') + 1)),
            std::string::npos)
      << extra;
}

TEST_F(CriteoLayoutReaderTest, NonIntegerNamesColumnFieldAndExpectedType) {
  const std::string line = WithField(GoodLine(), 5, "5x");  // I5: field 6, at column 11
  ASSERT_EQ(ColumnOf(line, 5), 11);
  std::string message = FailMessage(GoodLine() + line);
  EXPECT_NE(message.find("bad.tsv:2:11: I5 (field 6 of 40): expected an integer, found \"5x\""),
            std::string::npos)
      << message;
  message = FailMessage(WithField(GoodLine(), 1, "1.5"));
  EXPECT_NE(message.find("bad.tsv:1:3: I1 (field 2 of 40): expected an integer, found \"1.5\""),
            std::string::npos)
      << message;
  // Criteo's schema does not trim: a space is part of the value.
  message = FailMessage(WithField(GoodLine(), 1, " 5"));
  EXPECT_NE(message.find("I1 (field 2 of 40): expected an integer, found \" 5\""),
            std::string::npos)
      << message;
  message = FailMessage("x" + GoodLine().substr(1));
  EXPECT_NE(message.find("bad.tsv:1:1: label (field 1 of 40): expected an integer, found \"x\""),
            std::string::npos)
      << message;
  message = FailMessage(GoodLine().substr(1));  // an empty label
  EXPECT_NE(message.find("bad.tsv:1:1: label (field 1 of 40): expected a label (it must not be "
                         "missing)"),
            std::string::npos)
      << message;
  // Deliberately changed: the label is an int64 field; whether 7 is a good label is the
  // ETL's decision (etl/label_decision.h), no longer the reader's.
  const GatheredTable seven = ReadAll(Write("seven.tsv", "7" + GoodLine().substr(1)), {});
  EXPECT_EQ(seven.ints[kLabel][0], 7);
}

TEST_F(CriteoLayoutReaderTest, BadHexNamesColumnFieldAndExpectedType) {
  const std::string line = WithField(GoodLine(), 16, "0000zz03");  // C3
  std::string message = FailMessage(line);
  EXPECT_NE(message.find(fmt::format("bad.tsv:1:{}: C3 (field 17 of 40): expected up to 16 hex "
                                     "digits, found \"0000zz03\"",
                                     ColumnOf(line, 16))),
            std::string::npos)
      << message;
  message = FailMessage(WithField(GoodLine(), 16, "0x03"));
  EXPECT_NE(message.find("C3 (field 17 of 40): expected up to 16 hex digits, found \"0x03\""),
            std::string::npos)
      << message;
  message = FailMessage(WithField(GoodLine(), 16, std::string(16, '0') + "3"));  // 17 digits
  EXPECT_NE(message.find("C3 (field 17 of 40): expected a value in range"), std::string::npos)
      << message;
  // Deliberately changed: categories are 64-bit, so 9 to 16 digits and either case fit.
  const GatheredTable wide = ReadAll(
      Write("wide.tsv", WithField(WithField(WithField(GoodLine(), 16, "000000003"), 17,
                                            "FFFFFFFFFFFFFFFF"),
                                  18, "aBcDeF")),
      TextReadOptions{});
  EXPECT_EQ(wide.uints[C(3)][0], 3u);
  EXPECT_EQ(wide.uints[C(4)][0], UINT64_MAX);
  EXPECT_EQ(wide.uints[C(5)][0], 0xABCDEFu);
}

TEST_F(CriteoLayoutReaderTest, CrlfLineEndingsAreAccepted) {
  // Deliberately changed: the old reader rejected CR LF; a CRLF record is now a good row,
  // including one whose last field is empty, and the same rows as with LF endings.
  auto crlf = [](std::string line) { return line.insert(line.size() - 1, "\r"); };
  const std::string empty_last = WithField(GoodLine(0), 39, "");
  const std::string lf_text = GoodLine() + empty_last + GoodLine(0) + WithField(GoodLine(), 3, "-3");
  const std::string crlf_text =
      crlf(GoodLine()) + crlf(empty_last) + GoodLine(0) + crlf(WithField(GoodLine(), 3, "-3"));
  const GatheredTable lf = ReadAll(Write("lf.tsv", lf_text), TextReadOptions{});
  ASSERT_EQ(lf.rows, 4);
  EXPECT_EQ(lf.uints[C(26)][1], std::nullopt);
  EXPECT_EQ(lf.ints[I(3)][3], -3);
  const std::string path = Write("crlf.tsv", crlf_text);
  for (int64_t range : {int64_t{1} << 20, int64_t{50}, int64_t{7}}) {
    TextReadOptions options;
    options.range_bytes = range;
    ExpectSameColumns(ReadAll(path, options), lf, CriteoTableSchema(true),
                      fmt::format("range {}", range));
  }
  // A last line without a newline but with a CR is a row too.
  std::string last = crlf(GoodLine());
  last.pop_back();
  EXPECT_EQ(ReadAll(Write("cr_at_end.tsv", GoodLine() + last), {}).uints[C(26)][1], 26u);
}

TEST_F(CriteoLayoutReaderTest, TruncatedLastLineIsAnError) {
  const std::string good = GoodLine();
  const std::string cut = good.substr(0, 30);
  const int64_t fields = std::count(cut.begin(), cut.end(), '\t') + 1;
  const std::string expected = fmt::format("bad.tsv:2:31: expected 40 fields, found {}", fields);
  std::string message = FailMessage(good + cut);
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  // The same from many small ranges read in parallel.
  TextReadOptions small;
  small.range_bytes = 13;
  ctx_.threads = 3;
  message = FailMessage(good + good + cut, small);
  EXPECT_NE(message.find("bad.tsv:3:31: expected 40 fields"), std::string::npos) << message;
  // A whole last line without its newline is a row.
  TextReadSummary summary;
  const GatheredTable two =
      ReadAll(Write("no_newline.tsv", good + good.substr(0, good.size() - 1)), {}, &summary);
  EXPECT_EQ(summary.records, 2);
  EXPECT_EQ(two.uints[C(26)][1], 26u);
}

TEST_F(CriteoLayoutReaderTest, EmptyAndMissingFiles) {
  const std::string message = FailMessage("");
  EXPECT_NE(message.find("bad.tsv: file is empty: expected rows of 40 fields"), std::string::npos)
      << message;
  try {
    ReadAll((dir_ / "nope.tsv").string(), TextReadOptions{});
    FAIL() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("nope.tsv"), std::string::npos) << e.what();
  }
  TableBatch none;
  ParseTextTable("", CriteoTableSchema(true), OnError::kFail, "request", &none);
  EXPECT_EQ(none.rows, 0);
  EXPECT_EQ(none.records, 0);
}

TEST_F(CriteoLayoutReaderTest, SkipModeReportsEveryRejectWithItsLine) {
  const std::string bad_int = WithField(GoodLine(), 5, "five");  // I5
  std::string crlf = GoodLine();
  crlf.insert(crlf.size() - 1, "\r");
  const std::string truncated = GoodLine().substr(0, 20);
  const std::string contents = GoodLine(0) + bad_int + GoodLine(1) + "0\t1\t2\n" + crlf +
                               GoodLine(0) + truncated;
  const std::string path = Write("mixed.tsv", contents);
  for (int64_t range : {int64_t{300}, int64_t{41}, int64_t{1} << 20}) {
    for (int threads : {1, 3}) {
      SCOPED_TRACE(fmt::format("range {} threads {}", range, threads));
      TextReadOptions options;
      options.on_error = OnError::kSkip;
      options.range_bytes = range;  // rejects spread over several batches
      ctx_.threads = threads;
      TextReadSummary summary;
      const GatheredTable batch = ReadAll(path, options, &summary);
      EXPECT_EQ(summary.records, 7);
      EXPECT_EQ(summary.rows, 4);
      EXPECT_EQ(summary.rejected, 3);
      EXPECT_EQ(batch.ints[kLabel], (std::vector<std::optional<int64_t>>{0, 1, 1, 0}));
      ASSERT_EQ(batch.rejects.size(), 3u);
      EXPECT_EQ(batch.rejects[0].line, 2);
      EXPECT_EQ(batch.rejects[0].record, 2);
      EXPECT_NE(batch.rejects[0].reason.find(
                    "column 11: I5 (field 6 of 40): expected an integer, found \"five\""),
                std::string::npos)
          << batch.rejects[0].reason;
      EXPECT_EQ(batch.rejects[1].line, 4);
      EXPECT_NE(batch.rejects[1].reason.find("column 6: expected 40 fields, found 3"),
                std::string::npos)
          << batch.rejects[1].reason;
      EXPECT_EQ(batch.rejects[2].line, 7);
      EXPECT_EQ(batch.rejects[2].record, 7);
      EXPECT_NE(batch.rejects[2].reason.find(fmt::format(
                    "column 21: expected 40 fields, found {}",
                    std::count(truncated.begin(), truncated.end(), '\t') + 1)),
                std::string::npos)
          << batch.rejects[2].reason;
    }
  }
}

TEST_F(CriteoLayoutReaderTest, BlankLinesAreSkippedButKeepLineNumbersRight) {
  // Deliberately changed: the old reader rejected a blank line as a record of one field; the
  // generic reader skips it (as pandas does) but still counts it, so later lines are named
  // by their real number.
  const std::string contents =
      GoodLine() + "\n" + "\r\n" + WithField(GoodLine(), 5, "five") + "\n" + GoodLine(0);
  const std::string path = Write("blank.tsv", contents);
  for (int64_t range : {int64_t{1} << 20, int64_t{7}}) {
    SCOPED_TRACE(fmt::format("range {}", range));
    TextReadOptions options;
    options.range_bytes = range;
    try {
      ReadAll(path, options);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("blank.tsv:4:11: I5"), std::string::npos) << e.what();
    }
    options.on_error = OnError::kSkip;
    TextReadSummary summary;
    const GatheredTable read = ReadAll(path, options, &summary);
    EXPECT_EQ(summary.records, 3);
    EXPECT_EQ(read.ints[kLabel], (std::vector<std::optional<int64_t>>{1, 0}));
    ASSERT_EQ(read.rejects.size(), 1u);
    EXPECT_EQ(read.rejects[0].record, 2);
    EXPECT_EQ(read.rejects[0].line, 4);
  }
}

TEST_F(CriteoLayoutReaderTest, FailModeReportsTheFirstBadLineInFileOrder) {
  // Bad lines in several ranges parsed in parallel: the error names the earliest.
  std::string contents;
  for (int i = 0; i < 200; ++i)
    contents += GoodLine();
  const std::string bad = WithField(GoodLine(), 16, "xx");  // C3
  contents += bad;
  for (int i = 0; i < 200; ++i)
    contents += (i % 50 == 0 ? bad : GoodLine());
  const std::string path = Write("late.tsv", contents);
  for (int64_t range : {2000, 333}) {
    for (int threads : {2, 4}) {
      TextReadOptions options;
      options.range_bytes = range;
      ctx_.threads = threads;
      try {
        ReadAll(path, options);
        ADD_FAILURE() << "no error, range " << range << " threads " << threads;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(fmt::format(
                      "late.tsv:201:{}: C3 (field 17 of 40): expected up to 16 hex digits, "
                      "found \"xx\"",
                      ColumnOf(bad, 16))),
                  std::string::npos)
            << e.what() << " (range " << range << " threads " << threads << ")";
      }
    }
  }
}

TEST_F(CriteoLayoutReaderTest, ConcurrentCallbackSeesEveryBatchOnceAfterItsOrderedCommit) {
  std::string contents;
  for (int i = 0; i < 500; ++i)
    contents += GoodLine(i % 2);
  TextReadOptions options;
  options.range_bytes = 4096;
  ctx_.threads = 3;
  std::mutex mutex;
  std::vector<int64_t> committed_first_rows;         // in in_order order
  std::map<int64_t, int64_t> concurrent_first_rows;  // index -> first row
  std::atomic<int64_t> committed{0};
  const TextReadSummary summary = ReadTextTable(
      Write("c.tsv", contents), CriteoTableSchema(true), options, ctx_,
      [&](TableBatch& batch) {
        std::lock_guard<std::mutex> lock(mutex);
        committed_first_rows.push_back(batch.first_row);
        ++committed;
      },
      [&](TableBatch& batch, int64_t index) {
        EXPECT_GT(committed.load(), index) << "batch " << index << " before its ordered commit";
        std::lock_guard<std::mutex> lock(mutex);
        EXPECT_EQ(concurrent_first_rows.count(index), 0u) << "batch " << index << " twice";
        concurrent_first_rows[index] = batch.first_row;
      });
  EXPECT_EQ(summary.rows, 500);
  // One batch per range of a header-less file.
  const int64_t batches = (summary.bytes + options.range_bytes - 1) / options.range_bytes;
  ASSERT_GT(batches, 10);
  ASSERT_EQ(static_cast<int64_t>(committed_first_rows.size()), batches);
  ASSERT_EQ(static_cast<int64_t>(concurrent_first_rows.size()), batches);
  for (int64_t i = 0; i < batches; ++i)
    EXPECT_EQ(concurrent_first_rows[i], committed_first_rows[static_cast<size_t>(i)]) << i;
}

TEST_F(CriteoLayoutReaderTest, InMemoryRecordsAreNumberedAndNamedBySource) {
  const std::string text = GoodLine() + WithField(GoodLine(), 5, "five") + GoodLine(0);
  TableBatch batch;
  ParseTextTable(text, CriteoTableSchema(true), OnError::kSkip, "request", &batch);
  EXPECT_EQ(batch.rows, 2);
  EXPECT_EQ(batch.records, 3);
  ASSERT_EQ(batch.rejects.size(), 1u);
  EXPECT_EQ(batch.rejects[0].record, 2);
  EXPECT_EQ(batch.rejects[0].line, 2);
  EXPECT_EQ(batch.RowRecords(), (std::vector<int64_t>{0, 2}));
  try {
    ParseTextTable(text, CriteoTableSchema(true), OnError::kFail, "request", &batch);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("request:2:11: I5 (field 6 of 40): expected an integer"),
              std::string::npos)
        << e.what();
  }
}

TEST(ParseOnError, AcceptsFailAndSkipOnly) {
  EXPECT_EQ(ParseOnError("fail"), OnError::kFail);
  EXPECT_EQ(ParseOnError("skip"), OnError::kSkip);
  try {
    ParseOnError("ignore");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("'ignore'"), std::string::npos) << e.what();
  }
}

// The fast path (unquoted records) and the full RFC 4180 parser (any quoted field) must read
// Criteo rows alike: the same rows written unquoted, with every field quoted, and with quoted
// and unquoted rows and fields mixed (which switches between the two paths inside a batch),
// all give the values they were written from.
TEST_F(CriteoLayoutReaderTest, QuotedAndUnquotedRowsGiveIdenticalColumns) {
  struct Row {
    int64_t label = 0;
    std::vector<std::optional<int64_t>> dense = std::vector<std::optional<int64_t>>(kCriteoDense);
    std::vector<std::optional<uint64_t>> category =
        std::vector<std::optional<uint64_t>>(kCriteoCategorical);
    std::vector<std::string> hex = std::vector<std::string>(kCriteoCategorical);  // as written
  };
  std::mt19937_64 random(42);
  auto hex_of = [&](uint64_t value) {
    std::string text = fmt::format("{:x}", value);
    if (random() % 4 == 0)
      text = std::string(random() % 3, '0') + text;  // leading zeros
    if (text.size() > 16)
      text = text.substr(text.size() - 16);
    switch (random() % 3) {
      case 0:
        for (char& c : text)
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        break;
      case 1:
        for (size_t i = 0; i < text.size(); i += 2)
          text[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
        break;
      default:
        break;
    }
    return text;
  };
  std::vector<Row> rows;
  // First the rows the test is about, then random ones.
  {
    Row missing;  // every value but the label missing
    missing.label = 1;
    rows.push_back(missing);
    Row extremes;
    const int64_t dense[kCriteoDense] = {INT64_MAX, INT64_MIN, -1, 0, 1000000000000000000,
                                         -999999999999999999, -9223372036854775807, 7, -42,
                                         1234567890123456789, 999999999999999999, -5, 100};
    for (int d = 0; d < kCriteoDense; ++d)
      extremes.dense[static_cast<size_t>(d)] = dense[d];
    const char* hex[kCriteoCategorical] = {
        "ABCDEF01", "FFFFFFFFFFFFFFFF", "ffffffffffffffff", "0", "00000000", "DeadBeef",
        "68FD1E64", "1",        "0000000000000001", "aBcDeF",  "7FFFFFFFFFFFFFFF", "8000000000000000",
        "A",        "b",        "12345678",         "9ABCDEF0", "c0ffee",  "C0FFEE",
        "10",       "fffffffe", "80000000",         "7fffffff", "e",       "F00D",
        "00ABCDEF", "123456789ABCDEF0"};
    for (int c = 0; c < kCriteoCategorical; ++c) {
      uint64_t value = 0;
      for (const char* p = hex[c]; *p; ++p)
        value = value * 16 + static_cast<uint64_t>(std::stoi(std::string(1, *p), nullptr, 16));
      extremes.category[static_cast<size_t>(c)] = value;
      extremes.hex[static_cast<size_t>(c)] = hex[c];
    }
    rows.push_back(extremes);
  }
  for (int i = 0; i < 600; ++i) {
    Row row;
    row.label = static_cast<int64_t>(random() % 2);
    for (auto& value : row.dense) {
      switch (random() % 6) {
        case 0:
          break;  // missing
        case 1:
          value = static_cast<int64_t>(random());  // often 19 digits, either sign
          break;
        case 2:
          value = -static_cast<int64_t>(random() % 1000);
          break;
        default:
          value = static_cast<int64_t>(random() % 100000);
      }
    }
    for (size_t c = 0; c < row.category.size(); ++c) {
      if (random() % 5 == 0)
        continue;  // missing
      const uint64_t value = random() % 3 == 0 ? random() : random() & 0xFFFFFFFF;
      row.category[c] = value;
      row.hex[c] = hex_of(value);
    }
    rows.push_back(row);
  }

  // The values the rows were written from, as a read should gather them.
  GatheredTable expected;
  expected.rows = static_cast<int64_t>(rows.size());
  expected.ints.resize(kCriteoFields);
  expected.uints.resize(kCriteoFields);
  for (const Row& row : rows) {
    expected.ints[kLabel].push_back(row.label);
    for (int d = 1; d <= kCriteoDense; ++d)
      expected.ints[I(d)].push_back(row.dense[static_cast<size_t>(d - 1)]);
    for (int c = 1; c <= kCriteoCategorical; ++c)
      expected.uints[C(c)].push_back(row.category[static_cast<size_t>(c - 1)]);
  }

  // `quote(row, field)`: whether to quote that field.
  auto write = [&](char separator, const std::function<bool(size_t, int)>& quote) {
    std::string text;
    for (size_t r = 0; r < rows.size(); ++r) {
      const Row& row = rows[r];
      std::vector<std::string> fields = {std::to_string(row.label)};
      for (const auto& value : row.dense)
        fields.push_back(value ? std::to_string(*value) : "");
      for (size_t c = 0; c < row.category.size(); ++c)
        fields.push_back(row.category[c] ? row.hex[c] : "");
      for (size_t f = 0; f < fields.size(); ++f) {
        if (f > 0)
          text += separator;
        text += quote(r, static_cast<int>(f)) ? "\"" + fields[f] + "\"" : fields[f];
      }
      text += '\n';
    }
    return text;
  };
  TableSchema csv = CriteoTableSchema(true);
  csv.format.separator = ',';
  csv.format.quote = '"';
  const TableSchema tsv = CriteoTableSchema(true);
  const std::vector<std::tuple<std::string, TableSchema, std::string>> files = {
      {"unquoted.tsv", tsv, write('\t', [](size_t, int) { return false; })},
      {"unquoted.csv", csv, write(',', [](size_t, int) { return false; })},
      {"quoted.csv", csv, write(',', [](size_t, int) { return true; })},
      {"mixed.csv", csv,
       write(',', [](size_t r, int f) { return r % 3 == 1 || (r % 5 == 2 && f % 7 == 3); })},
  };
  ASSERT_NE(std::get<2>(files[2]).find("\"\""), std::string::npos) << "quoted missing values";
  for (const auto& [name, schema, text] : files) {
    const std::string path = Write(name, text);
    for (const auto& [range, threads] :
         std::vector<std::pair<int64_t, int>>{{int64_t{1} << 20, 1}, {256, 3}, {4000, 2}}) {
      TextReadOptions options;
      options.range_bytes = range;
      ctx_.threads = threads;
      ExpectSameColumns(ReadAll(path, options, nullptr, schema), expected, schema,
                        fmt::format("{} range {} threads {}", name, range, threads));
    }
    TableBatch parsed;
    ParseTextTable(text, schema, OnError::kFail, name, &parsed);
    GatheredTable from_memory;
    from_memory.Append(parsed);
    ExpectSameColumns(from_memory, expected, schema, name + " in memory");
  }
}

}  // namespace
}  // namespace aiok::data
