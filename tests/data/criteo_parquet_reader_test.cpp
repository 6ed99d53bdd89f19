#include "aiok/data/criteo_parquet_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/data/duckdb_client.h"
#include "batch_gathering.h"

namespace aiok::data {
namespace {
namespace fs = std::filesystem;

// SQL that reads a Criteo TSV with typed columns: label and I1..I13 integers, C1..C26 text.
std::string ReadTsvSql(const std::string& path) {
  std::string columns = "'label': 'INTEGER'";
  for (int d = 1; d <= 13; ++d)
    columns += fmt::format(", 'I{}': 'BIGINT'", d);
  for (int c = 1; c <= 26; ++c)
    columns += fmt::format(", 'C{}': 'VARCHAR'", c);
  return "read_csv(" + SqlString(path) + ", delim='\\t', header=false, columns={" + columns + "})";
}

class CriteoParquetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_parquet_" + std::to_string(getpid()));
    CriteoGenerator generator;
    generator.options().rows = 5000;
    RunContext gen{5, 2, &token_};
    generator.Generate(gen, dir_.string());
    ctx_ = RunContext{0, 2, &token_};
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Tsv() const { return (dir_ / "train.txt").string(); }

  // Writes `select` (SQL over the typed TSV, named t) to a Parquet file.
  std::string MakeParquet(const std::string& name, const std::string& select) {
    const std::string path = (dir_ / name).string();
    DuckDb db(2);
    db.Query("CREATE VIEW t AS SELECT * FROM " + ReadTsvSql(Tsv()), "test");
    db.Query("COPY (" + select + ") TO " + SqlString(path) + " (FORMAT PARQUET)", "test");
    return path;
  }

  CriteoBatch ReadAll(const std::string& path, bool parquet, OnError on_error = OnError::kFail) {
    CriteoReaderOptions options;
    options.on_error = on_error;
    CriteoBatch all;
    auto gather = [&](CriteoBatch& batch) { AppendBatch(batch, &all); };
    if (parquet) {
      ReadCriteoParquet(path, options, ctx_, gather);
    } else {
      ReadCriteoTsv(path, options, ctx_, gather);
    }
    return all;
  }

  std::string FailMessage(const std::string& path) {
    try {
      ReadAll(path, true);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
  }

  fs::path dir_;
  CancellationToken token_;
  RunContext ctx_;
};

TEST_F(CriteoParquetTest, SameRowsAsTheTsv) {
  const std::string parquet = MakeParquet("same.parquet", "SELECT * FROM t");
  EXPECT_TRUE(IsParquetFile(parquet));
  EXPECT_FALSE(IsParquetFile(Tsv()));
  EXPECT_EQ(CountParquetRows(parquet, 2), 5000);
  const CriteoBatch from_tsv = ReadAll(Tsv(), false);
  const CriteoBatch from_parquet = ReadAll(parquet, true);
  EXPECT_EQ(from_parquet.rows, 5000);
  EXPECT_EQ(from_parquet.label, from_tsv.label);
  EXPECT_EQ(from_parquet.dense, from_tsv.dense);
  EXPECT_EQ(from_parquet.category, from_tsv.category);
}

TEST_F(CriteoParquetTest, PandasStyleFloatsAndIntegerCategoriesAndAnyColumnOrder) {
  // Integer columns with gaps as DOUBLE (NaN for missing), categories as integers, columns
  // shuffled and an extra column: all read as the same rows.
  std::string select = "SELECT 'x' AS extra";
  for (int c = 26; c >= 1; --c)
    select += fmt::format(", ('0x' || C{0})::BIGINT AS C{0}", c);
  for (int d = 1; d <= 13; ++d)
    select += fmt::format(", coalesce(I{0}::DOUBLE, 'NaN'::DOUBLE) AS I{0}", d);
  const std::string parquet = MakeParquet("pandas.parquet", select + ", label FROM t");
  const CriteoBatch from_tsv = ReadAll(Tsv(), false);
  const CriteoBatch from_parquet = ReadAll(parquet, true);
  EXPECT_EQ(from_parquet.label, from_tsv.label);
  EXPECT_EQ(from_parquet.dense, from_tsv.dense);
  EXPECT_EQ(from_parquet.category, from_tsv.category);
}

TEST_F(CriteoParquetTest, MissingColumnsAreNamed) {
  const std::string parquet = MakeParquet("missing.parquet", "SELECT * EXCLUDE (C7, I2) FROM t");
  const std::string message = FailMessage(parquet);
  EXPECT_NE(message.find("missing.parquet: missing column(s) I2, C7"), std::string::npos)
      << message;
}

TEST_F(CriteoParquetTest, BadValuesNameRowAndColumnOrAreRejected) {
  const std::string parquet = MakeParquet(
      "bad.parquet",
      "SELECT * REPLACE (CASE WHEN row_number() OVER () = 7 THEN 'zz' ELSE C3 END AS C3) FROM t");
  const std::string message = FailMessage(parquet);
  EXPECT_NE(message.find("bad.parquet: row 7: C3: expected up to 8 hex digits"), std::string::npos)
      << message;
  const CriteoBatch skipped = ReadAll(parquet, true, OnError::kSkip);
  EXPECT_EQ(skipped.rows, 4999);
  ASSERT_EQ(skipped.rejects.size(), 1u);
  EXPECT_EQ(skipped.rejects[0].line, 7);
}

TEST_F(CriteoParquetTest, MissingOrBrokenFiles) {
  try {
    ReadAll((dir_ / "none.parquet").string(), true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
  }
  EXPECT_THROW(CountParquetRows(Tsv(), 1), Error);  // a TSV is not Parquet
}

}  // namespace
}  // namespace aiok::data
