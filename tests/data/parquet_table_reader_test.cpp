#include "aiok/data/parquet_table_reader.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/data/criteo_layout.h"
#include "aiok/data/duckdb_client.h"
#include "table_gathering.h"

namespace aiok::data {
namespace {
namespace fs = std::filesystem;

// SQL that reads a Criteo TSV with typed columns: label and I1..I13 integers, C1..C26 text.
std::string ReadTsvSql(const std::string& path) {
  std::string columns = "'label': 'INTEGER'";
  for (int d = 1; d <= kCriteoDense; ++d)
    columns += fmt::format(", 'I{}': 'BIGINT'", d);
  for (int c = 1; c <= kCriteoCategorical; ++c)
    columns += fmt::format(", 'C{}': 'VARCHAR'", c);
  return "read_csv(" + SqlString(path) + ", delim='\\t', header=false, columns={" + columns + "})";
}

// A SELECT of `rows` Criteo rows in order, row i (0-based) holding label i % 2, I(k) = i + k
// and C(k) = hex(i + k); `replace` gives other SQL (over i) for some columns.
std::string SmallCriteoSelect(int64_t rows, const std::map<std::string, std::string>& replace) {
  std::vector<std::pair<std::string, std::string>> columns = {{"label", "(i % 2)::INTEGER"}};
  for (int d = 1; d <= kCriteoDense; ++d)
    columns.emplace_back(CriteoDenseName(d - 1), fmt::format("(i + {})::BIGINT", d));
  for (int c = 1; c <= kCriteoCategorical; ++c)
    columns.emplace_back(CriteoCategoricalName(c - 1), fmt::format("printf('%x', i + {})", c));
  std::string sql = "SELECT ";
  for (size_t k = 0; k < columns.size(); ++k) {
    const auto found = replace.find(columns[k].first);
    sql += fmt::format("{}{} AS {}", k ? ", " : "",
                       found == replace.end() ? columns[k].second : found->second,
                       columns[k].first);
  }
  return sql + fmt::format(" FROM range({}) t(i) ORDER BY i", rows);
}

class ParquetTableReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_parquet_table_" + std::to_string(getpid()));
    CriteoGenerator generator;
    generator.options().rows = 5000;
    RunContext gen{5, 2, &token_};
    generator.Generate(gen, dir_.string());
    ctx_ = RunContext{0, 2, &token_};
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Tsv() const { return (dir_ / "train.txt").string(); }

  // Writes `select` (SQL, which may read the typed TSV as t) to a Parquet file.
  std::string MakeParquet(const std::string& name, const std::string& select) {
    const std::string path = (dir_ / name).string();
    DuckDb db(2);
    db.Query("CREATE VIEW t AS SELECT * FROM " + ReadTsvSql(Tsv()), "test");
    db.Query("COPY (" + select + ") TO " + SqlString(path) + " (FORMAT PARQUET)", "test");
    return path;
  }

  GatheredTable ReadAll(const std::string& path, bool parquet, OnError on_error = OnError::kFail,
                        TextReadSummary* summary = nullptr,
                        const TableSchema& schema = CriteoTableSchema(true)) {
    GatheredTable all;
    auto gather = [&](TableBatch& batch) { all.Append(batch); };
    TextReadOptions options;
    options.on_error = on_error;
    const TextReadSummary s = parquet ? ReadParquetTable(path, schema, on_error, ctx_, gather)
                                      : ReadTextTable(path, schema, options, ctx_, gather);
    EXPECT_EQ(s.rows, all.rows);
    EXPECT_EQ(s.records, s.rows + s.rejected);
    if (summary)
      *summary = s;
    return all;
  }

  std::string FailMessage(const std::string& path) {
    try {
      ReadAll(path, true);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
  }

  fs::path dir_;
  CancellationToken token_;
  RunContext ctx_;
};

TEST_F(ParquetTableReaderTest, SameRowsAsTheTsv) {
  const TableSchema schema = CriteoTableSchema(true);
  const std::string parquet = MakeParquet("same.parquet", "SELECT * FROM t");
  EXPECT_TRUE(IsParquetFile(parquet));
  EXPECT_FALSE(IsParquetFile(Tsv()));
  EXPECT_FALSE(IsParquetFile((dir_ / "none.parquet").string()));
  EXPECT_EQ(CountParquetRows(parquet, 2), 5000);
  const GatheredTable from_tsv = ReadAll(Tsv(), false);
  EXPECT_GT(CountMissing(from_tsv), 0) << "the comparison should cover missing values";
  TextReadSummary summary;
  const GatheredTable from_parquet = ReadAll(parquet, true, OnError::kFail, &summary);
  EXPECT_EQ(summary.records, 5000);
  EXPECT_EQ(summary.bytes, static_cast<int64_t>(fs::file_size(parquet)));
  ExpectSameColumns(from_parquet, from_tsv, schema, "ReadParquetTable");
  // ReadTable picks the reader by the file's magic bytes.
  for (const std::string& path : {parquet, Tsv()}) {
    GatheredTable read;
    ReadTable(path, schema, TextReadOptions{}, ctx_, [&](TableBatch& batch) { read.Append(batch); });
    ExpectSameColumns(read, from_tsv, schema, "ReadTable " + path);
  }
}

TEST_F(ParquetTableReaderTest, PandasStyleFloatsAndIntegerCategoriesAndAnyColumnOrder) {
  // Integer columns with gaps as DOUBLE (NaN for missing), categories as integers, columns
  // shuffled and an extra column: all read as the same rows.
  const TableSchema schema = CriteoTableSchema(true);
  const GatheredTable from_tsv = ReadAll(Tsv(), false);
  std::string select = "SELECT 'x' AS extra";
  for (int c = 26; c >= 1; --c)
    select += fmt::format(", ('0x' || C{0})::BIGINT AS C{0}", c);
  for (int d = 1; d <= 13; ++d)
    select += fmt::format(", coalesce(I{0}::DOUBLE, 'NaN'::DOUBLE) AS I{0}", d);
  const std::string pandas = MakeParquet("pandas.parquet", select + ", label FROM t");
  ExpectSameColumns(ReadAll(pandas, true), from_tsv, schema, "pandas.parquet");
  // Integer categories with gaps are DOUBLE too (NaN for missing), unsigned integers read as
  // such, and a label may be a boolean.
  select = "SELECT label::BOOLEAN AS label";
  for (int d = 1; d <= 13; ++d)
    select += fmt::format(", I{0}", d);
  for (int c = 1; c <= 26; ++c) {
    select += c % 2 ? fmt::format(", coalesce(('0x' || C{0})::BIGINT::DOUBLE, 'NaN'::DOUBLE) "
                                  "AS C{0}",
                                  c)
                    : fmt::format(", ('0x' || C{0})::UBIGINT AS C{0}", c);
  }
  const std::string floats = MakeParquet("float_categories.parquet", select + " FROM t");
  ExpectSameColumns(ReadAll(floats, true), from_tsv, schema, "float_categories.parquet");
}

TEST_F(ParquetTableReaderTest, PandasStyleValuesThatAreNotWholeNumbersAreNamed) {
  // Row 3 (i = 2) holds the bad value; under skip, it is the one reject.
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"I1", "CASE WHEN i = 2 THEN 1.5 ELSE i::DOUBLE END"}},
       "row 3: I1: expected a whole number, found \"1.5\""},
      {{{"I2", "CASE WHEN i = 2 THEN 1e19 ELSE i::DOUBLE END"}},
       "row 3: I2: expected a value in range, found \"1e+19\""},
      {{{"I3", "CASE WHEN i = 2 THEN 'Infinity'::DOUBLE ELSE 'NaN'::DOUBLE END"}},
       "row 3: I3: expected a whole number, found \"inf\""},
      {{{"C1", "CASE WHEN i = 2 THEN -5 ELSE i END"}},
       "row 3: C1: expected a non-negative integer, found \"-5\""},
      {{{"C2", "CASE WHEN i = 2 THEN -1.0 ELSE i::DOUBLE END"}},
       "row 3: C2: expected a non-negative whole number, found \"-1\""},
      {{{"C3", "CASE WHEN i = 2 THEN 0.5 ELSE 'NaN'::DOUBLE END"}},
       "row 3: C3: expected a non-negative whole number, found \"0.5\""},
      {{{"label", "CASE WHEN i = 2 THEN 'NaN'::DOUBLE ELSE (i % 2)::DOUBLE END"}},
       "row 3: label: expected a label (it must not be missing), found NaN"},
      {{{"label", "CASE WHEN i = 2 THEN NULL ELSE i % 2 END"}},
       "row 3: label: expected a label (it must not be missing), found NULL"},
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string name = fmt::format("bad{}.parquet", k);
    const std::string path = MakeParquet(name, SmallCriteoSelect(10, cases[k].first));
    const std::string message = FailMessage(path);
    EXPECT_NE(message.find(name + ": " + cases[k].second), std::string::npos) << message;
    const GatheredTable skipped = ReadAll(path, true, OnError::kSkip);
    EXPECT_EQ(skipped.rows, 9) << name;
    ASSERT_EQ(skipped.rejects.size(), 1u) << name;
    EXPECT_EQ(skipped.rejects[0].record, 3) << name;
  }
  // Whole numbers in DOUBLE columns keep their value up to the edges of the int64 range, and
  // a NaN or NULL is a missing value.
  const std::string edges = MakeParquet(
      "edges.parquet",
      SmallCriteoSelect(4, {{"I1", "([-9223372036854775808.0, 9223372036854774784.0, -0.0, "
                                   "'NaN'::DOUBLE]::DOUBLE[])[i + 1]"},
                            {"C1", "([18446744073709549568.0, 0.0, NULL, 4294967295.0]::DOUBLE[])[i + 1]"}}));
  const GatheredTable read = ReadAll(edges, true);
  EXPECT_EQ(read.ints[1], (std::vector<std::optional<int64_t>>{INT64_MIN, 9223372036854774784, 0,
                                                                std::nullopt}));
  EXPECT_EQ(read.uints[14], (std::vector<std::optional<uint64_t>>{
                                18446744073709549568u, 0u, std::nullopt, 4294967295u}));
}

TEST_F(ParquetTableReaderTest, MissingColumnsAreNamed) {
  std::string message =
      FailMessage(MakeParquet("missing.parquet", "SELECT * EXCLUDE (C7, I2) FROM t"));
  EXPECT_NE(message.find("missing.parquet: missing column(s) I2, C7 (the file's columns: C1, "),
            std::string::npos)
      << message;
  message = FailMessage(
      MakeParquet("renamed.parquet", "SELECT * EXCLUDE (label), label AS Label FROM t"));
  EXPECT_NE(message.find("renamed.parquet: missing column(s) label; did you mean 'Label'?"),
            std::string::npos)
      << message;
  // A column the schema ignores need not be there.
  TableSchema schema = CriteoTableSchema(true);
  schema.fields[static_cast<size_t>(schema.Find("C7"))].role = FieldRole::kIgnored;
  const TextReadSummary summary =
      ReadParquetTable(MakeParquet("no_c7.parquet", "SELECT * EXCLUDE (C7) FROM t"), schema,
                       OnError::kFail, ctx_, [&](TableBatch& batch) {
                         EXPECT_EQ(batch.columns[static_cast<size_t>(schema.Find("C8"))].valid.size(),
                                   static_cast<size_t>(batch.rows));
                       });
  EXPECT_EQ(summary.rows, 5000);
}

TEST_F(ParquetTableReaderTest, BadValuesNameRowAndColumnOrAreRejected) {
  const std::string parquet = MakeParquet(
      "bad.parquet",
      SmallCriteoSelect(20, {{"C3", "CASE WHEN i = 6 THEN 'zz' ELSE printf('%x', i) END"},
                             {"I4", "CASE WHEN i = 11 THEN '4x' ELSE i::VARCHAR END"}}));
  const std::string message = FailMessage(parquet);
  EXPECT_NE(message.find("bad.parquet: row 7: C3: expected up to 16 hex digits, found \"zz\""),
            std::string::npos)
      << message;
  TextReadSummary summary;
  const GatheredTable skipped = ReadAll(parquet, true, OnError::kSkip, &summary);
  EXPECT_EQ(skipped.rows, 18);
  EXPECT_EQ(summary.records, 20);
  EXPECT_EQ(summary.rejected, 2);
  ASSERT_EQ(skipped.rejects.size(), 2u);
  EXPECT_EQ(skipped.rejects[0].record, 7);
  EXPECT_EQ(skipped.rejects[0].line, 7);
  EXPECT_EQ(skipped.rejects[1].record, 12);
  EXPECT_NE(skipped.rejects[1].reason.find("I4: expected an integer, found \"4x\""),
            std::string::npos)
      << skipped.rejects[1].reason;
  // The rows after the rejects keep their values (a rejected row leaves nothing behind):
  // row 6 is i = 7, row 10 is i = 12.
  EXPECT_EQ(skipped.ints[3][6], 7 + 3);    // I3
  EXPECT_EQ(skipped.uints[17][6], 7u + 4);  // C4, written as hex
  EXPECT_EQ(skipped.ints[1][10], 12 + 1);  // I1
  EXPECT_EQ(skipped.uints[39][10], 12u + 26);  // C26
}

TEST_F(ParquetTableReaderTest, ManyBatchesAreNumberedInOrderAndSeenOnceConcurrently) {
  // More rows than one batch holds, with a bad label in the second batch.
  const int64_t rows = kParquetTableBatchRows + 5000;
  const int64_t bad = kParquetTableBatchRows + 100;  // 1-based record
  TableSchema schema;
  schema.fields = {{"id", FieldRole::kDense, {ValueType::kInt64, false, false}},
                   {"label", FieldRole::kLabel, {ValueType::kInt64, false, false}}};
  const std::string path = MakeParquet(
      "many.parquet",
      fmt::format("SELECT i AS id, CASE WHEN i = {} THEN 'x' ELSE (i % 2)::VARCHAR END AS label "
                  "FROM range({}) t(i) ORDER BY i",
                  bad - 1, rows));
  std::mutex mutex;
  std::vector<int64_t> first_rows;
  std::map<int64_t, int64_t> concurrent;  // index -> first row
  std::atomic<int64_t> committed{0};
  GatheredTable all;
  const TextReadSummary summary = ReadParquetTable(
      path, schema, OnError::kSkip, ctx_,
      [&](TableBatch& batch) {
        std::lock_guard<std::mutex> lock(mutex);
        first_rows.push_back(batch.first_row);
        all.Append(batch);
        ++committed;
      },
      [&](TableBatch& batch, int64_t index) {
        EXPECT_GT(committed.load(), index);
        std::lock_guard<std::mutex> lock(mutex);
        EXPECT_EQ(concurrent.count(index), 0u);
        concurrent[index] = batch.first_row;
      });
  EXPECT_EQ(summary.records, rows);
  EXPECT_EQ(summary.rows, rows - 1);
  ASSERT_EQ(first_rows, (std::vector<int64_t>{0, kParquetTableBatchRows}));
  EXPECT_EQ(concurrent, (std::map<int64_t, int64_t>{{0, 0}, {1, kParquetTableBatchRows}}));
  ASSERT_EQ(all.rejects.size(), 1u);
  EXPECT_EQ(all.rejects[0].record, bad);
  EXPECT_EQ(all.ints[0][static_cast<size_t>(bad - 1)], bad);  // the row after the reject
  EXPECT_EQ(all.ints[0][static_cast<size_t>(rows - 2)], rows - 1);
}

TEST_F(ParquetTableReaderTest, MissingOrBrokenFiles) {
  const TableSchema schema = CriteoTableSchema(true);
  auto ignore = [](TableBatch&) {};
  for (const bool through_read_table : {false, true}) {
    try {
      const std::string none = (dir_ / "none.parquet").string();
      if (through_read_table) {
        ReadTable(none, schema, TextReadOptions{}, ctx_, ignore);
      } else {
        ReadParquetTable(none, schema, OnError::kFail, ctx_, ignore);
      }
      ADD_FAILURE() << "no error for a missing file";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kIo) << e.what();
      EXPECT_NE(std::string(e.what()).find("none.parquet"), std::string::npos) << e.what();
    }
  }
  try {
    CountParquetRows((dir_ / "none.parquet").string(), 1);
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo) << e.what();
  }
  try {
    CountParquetRows(Tsv(), 1);  // a TSV is not Parquet
    ADD_FAILURE() << "no error for a TSV";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
  }
  // A Parquet file cut short: its magic bytes say Parquet, DuckDB cannot read it.
  const std::string whole = MakeParquet("whole.parquet", "SELECT * FROM t");
  const std::string cut = (dir_ / "cut.parquet").string();
  {
    std::ifstream in(whole, std::ios::binary);
    std::string bytes(1000, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(cut, std::ios::binary) << bytes;
  }
  EXPECT_TRUE(IsParquetFile(cut));
  try {
    ReadTable(cut, schema, TextReadOptions{}, ctx_, ignore);
    ADD_FAILURE() << "no error for a broken file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
    EXPECT_NE(std::string(e.what()).find("cut.parquet"), std::string::npos) << e.what();
  }
  EXPECT_THROW(CountParquetRows(cut, 1), Error);
}

}  // namespace
}  // namespace aiok::data
