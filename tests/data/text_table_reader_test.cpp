#include "aiok/data/text_table_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "aiok/core/error.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/schema_inference.h"
#include "aiok/data/value_parsing.h"

namespace aiok::data {
namespace {
namespace fs = std::filesystem;

class TextTableReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("aiok_text_reader_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // Every row of the file as one string per row ("a|b|..." with "~" for missing values),
  // read with `range_bytes`-byte ranges.
  std::vector<std::string> Rows(const std::string& path, const TableSchema& schema,
                                int64_t range_bytes = int64_t{4} << 20,
                                OnError on_error = OnError::kFail,
                                std::vector<RejectedRecord>* rejects = nullptr) {
    TextReadOptions options;
    options.range_bytes = range_bytes;
    options.on_error = on_error;
    static CancellationToken token;
    const RunContext ctx{0, 2, &token};
    std::vector<std::string> rows;
    ReadTextTable(path, schema, options, ctx, [&](TableBatch& batch) {
      for (int64_t r = 0; r < batch.rows; ++r)
        rows.push_back(Show(schema, batch, static_cast<size_t>(r)));
      if (rejects)
        rejects->insert(rejects->end(), batch.rejects.begin(), batch.rejects.end());
    });
    return rows;
  }

  static std::string Show(const TableSchema& schema, const TableBatch& batch, size_t r) {
    std::string out;
    for (size_t f = 0; f < schema.fields.size(); ++f) {
      const ColumnValues& c = batch.columns[f];
      auto one = [&](size_t i) -> std::string {
        switch (c.type.value) {
          case ValueType::kInt64:
          case ValueType::kTimestamp:
            return std::to_string(c.ints[i]);
          case ValueType::kUInt64:
            return std::to_string(c.uints[i]);
          case ValueType::kFloat64:
            return fmt::format("{}", c.reals[i]);
          case ValueType::kString:
            return "'" + std::string(c.string(i)) + "'";
        }
        return "?";
      };
      out += f ? "|" : "";
      if (!c.valid[r]) {
        out += "~";
      } else if (c.type.list) {
        out += "[";
        for (auto i = c.list_offsets[r]; i < c.list_offsets[r + 1]; ++i)
          out += (i > c.list_offsets[r] ? "," : "") + one(static_cast<size_t>(i));
        out += "]";
      } else {
        out += one(r);
      }
    }
    return out;
  }

  static TableSchema Schema(std::vector<Field> fields) {
    TableSchema schema;
    schema.fields = std::move(fields);
    return schema;
  }

  fs::path dir_;
};

const FieldType kInt{ValueType::kInt64, false, false};
const FieldType kReal{ValueType::kFloat64, false, false};
const FieldType kText{ValueType::kString, false, false};

TEST_F(TextTableReaderTest, QuotesHoldSeparatorsQuotesAndNewlines) {
  const std::string path =
      Write("q.csv", "id,name,score\n1,\"a, b\",2.5\n2,\"say \"\"hi\"\"\",-1\n3,\"two\nlines\",1e3\n4,plain,\n");
  const TableSchema schema = Schema({{"id", FieldRole::kCategorical, kInt},
                                     {"name", FieldRole::kCategorical, kText},
                                     {"score", FieldRole::kDense, kReal}});
  const std::vector<std::string> expected = {"1|'a, b'|2.5", "2|'say \"hi\"'|-1",
                                             "3|'two\nlines'|1000", "4|'plain'|~"};
  EXPECT_EQ(Rows(path, schema), expected);
  // Cut into ranges of every small size: a range that guessed its start inside the quoted
  // newline is parsed again, so the rows never depend on where the cuts fall.
  for (int64_t range = 1; range <= 40; ++range)
    EXPECT_EQ(Rows(path, schema, range), expected) << "range " << range;
}

TEST_F(TextTableReaderTest, CrlfBomTrimNullTokensAndAFinalLineWithoutNewline) {
  const std::string path =
      Write("crlf.csv", "\xEF\xBB\xBFid , name\r\n 1 ,  x  \r\n2,NA\r\n3,\"\"\r\n4,\\N\r\n5,?");
  const TableSchema schema =
      Schema({{"id", FieldRole::kCategorical, kInt}, {"name", FieldRole::kCategorical, kText}});
  EXPECT_EQ(Rows(path, schema),
            (std::vector<std::string>{"1|'x'", "2|~", "3|''", "4|~", "5|~"}));
}

TEST_F(TextTableReaderTest, IntegersOverTheirWholeRangeAndUnsignedIdsAbove2To63) {
  const std::string path = Write(
      "ints.csv",
      "a,b\n9223372036854775807,18446744073709551615\n-9223372036854775808,9223372036854775808\n"
      "1000000000000000000,0\n");
  const TableSchema schema = Schema({{"a", FieldRole::kDense, kInt},
                                     {"b", FieldRole::kCategorical, {ValueType::kUInt64, false, false}}});
  EXPECT_EQ(Rows(path, schema),
            (std::vector<std::string>{"9223372036854775807|18446744073709551615",
                                      "-9223372036854775808|9223372036854775808",
                                      "1000000000000000000|0"}));
  const std::string over = Write("over.csv", "a,b\n9223372036854775808,1\n");
  try {
    Rows(over, schema);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("over.csv:2:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected a value in range"), std::string::npos)
        << e.what();
  }
}

TEST_F(TextTableReaderTest, ListFieldsSplitBySecondSeparator) {
  const std::string path = Write("lists.csv", "g,n\nComedy|Drama,1|2|3\nAction,\n,7\n");
  const TableSchema schema =
      Schema({{"g", FieldRole::kMultiCategorical, {ValueType::kString, true, false}},
              {"n", FieldRole::kSequence, {ValueType::kInt64, true, false}}});
  EXPECT_EQ(Rows(path, schema), (std::vector<std::string>{"['Comedy','Drama']|[1,2,3]",
                                                          "['Action']|~", "~|[7]"}));
}

TEST_F(TextTableReaderTest, BadValuesNameFileLineColumnFieldAndExpectedType) {
  const std::string path = Write("bad.csv", "id,score\n1,2.0\n2,\"x\ny\"\n3,abc\n");
  const TableSchema schema =
      Schema({{"id", FieldRole::kCategorical, kInt}, {"score", FieldRole::kDense, kReal}});
  try {
    Rows(path, schema);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    // Line 3 starts the quoted value; the bad record is on line 3 too (the value begins there).
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("bad.csv:3:3: score (field 2 of 2): expected a number"),
              std::string::npos)
        << e.what();
  }
  std::vector<RejectedRecord> rejects;
  EXPECT_EQ(Rows(path, schema, 1 << 20, OnError::kSkip, &rejects),
            (std::vector<std::string>{"1|2"}));
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_EQ(rejects[0].record, 2);
  EXPECT_EQ(rejects[0].line, 3);
  EXPECT_EQ(rejects[1].record, 3);
  EXPECT_EQ(rejects[1].line, 5);  // after the two-line record
  EXPECT_NE(rejects[1].reason.find("score (field 2 of 2): expected a number, found \"abc\""),
            std::string::npos)
      << rejects[1].reason;
}

TEST_F(TextTableReaderTest, RaggedLinesAreNamedNeverDropped) {
  const std::string path = Write("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n");
  const TableSchema schema = Schema(
      {{"a", FieldRole::kDense, kInt}, {"b", FieldRole::kDense, kInt}, {"c", FieldRole::kDense, kInt}});
  try {
    Rows(path, schema);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ragged.csv:3:4: expected 3 fields, found 2"),
              std::string::npos)
        << e.what();
  }
  std::vector<RejectedRecord> rejects;
  EXPECT_EQ(Rows(path, schema, 1 << 20, OnError::kSkip, &rejects),
            (std::vector<std::string>{"1|2|3", "10|11|12"}));
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_NE(rejects[1].reason.find("expected 3 fields, found 4"), std::string::npos);
}

TEST_F(TextTableReaderTest, EmptyFileHeaderOnlyFileAndAHeaderThatDoesNotMatch) {
  const TableSchema schema =
      Schema({{"a", FieldRole::kDense, kInt}, {"b", FieldRole::kDense, kInt}});
  EXPECT_THROW(Rows(Write("empty.csv", ""), schema), Error);
  EXPECT_TRUE(Rows(Write("header.csv", "a,b\n"), schema).empty());
  EXPECT_TRUE(Rows(Write("header_no_nl.csv", "a,b"), schema).empty());
  try {
    Rows(Write("other.csv", "a,x\n1,2\n"), schema);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("field 2 is 'x', expected 'b'"), std::string::npos)
        << e.what();
  }
}

TEST_F(TextTableReaderTest, ManyRangesGiveTheSameRowsAsOne) {
  std::string text = "id,name,tags\n";
  for (int i = 0; i < 2000; ++i) {
    text += std::to_string(i) + ",";
    text += i % 7 == 0 ? "\"multi\nline " + std::to_string(i) + "\"" : "n" + std::to_string(i);
    text += i % 3 == 0 ? ",a|b\n" : ",\n";
  }
  const std::string path = Write("many.csv", text);
  const TableSchema schema =
      Schema({{"id", FieldRole::kCategorical, kInt},
              {"name", FieldRole::kCategorical, kText},
              {"tags", FieldRole::kMultiCategorical, {ValueType::kString, true, false}}});
  const std::vector<std::string> one = Rows(path, schema);
  ASSERT_EQ(one.size(), 2000u);
  for (int64_t range : {13, 100, 777, 4096})
    EXPECT_EQ(Rows(path, schema, range), one) << "range " << range;
}

TEST(ValueParsing, TimestampsFloatsAndHex) {
  int64_t t = 0;
  EXPECT_EQ(ParseTimestamp("1970-01-02", &t), ParseStatus::kOk);
  EXPECT_EQ(t, 86400);
  EXPECT_EQ(ParseTimestamp("2024-03-01 00:00:24", &t), ParseStatus::kOk);
  EXPECT_EQ(t, 1709251224);
  EXPECT_EQ(ParseTimestamp("2024-03-01T00:00:24.5Z", &t), ParseStatus::kOk);
  EXPECT_EQ(t, 1709251224);
  EXPECT_EQ(ParseTimestamp("2023-02-29", &t), ParseStatus::kOutOfRange);
  EXPECT_EQ(ParseTimestamp("1709251224", &t), ParseStatus::kOk);
  EXPECT_EQ(ParseTimestamp("2024-03-01 00", &t), ParseStatus::kInvalid);
  double d = 0;
  EXPECT_EQ(ParseFloat64("+1.5e2", &d), ParseStatus::kOk);
  EXPECT_EQ(d, 150.0);
  EXPECT_EQ(ParseFloat64("-inf", &d), ParseStatus::kOk);
  EXPECT_EQ(ParseFloat64("1e999", &d), ParseStatus::kOutOfRange);
  EXPECT_EQ(ParseFloat64("1.2.3", &d), ParseStatus::kInvalid);
  uint64_t u = 0;
  EXPECT_EQ(ParseHex64("68fd1e64", &u), ParseStatus::kOk);
  EXPECT_EQ(u, 0x68fd1e64u);
  EXPECT_EQ(ParseHex64("12345678901234567", &u), ParseStatus::kOutOfRange);
  int64_t i = 0;
  EXPECT_EQ(ParseInt64("-9223372036854775809", &i), ParseStatus::kOutOfRange);
  EXPECT_EQ(ParseInt64("12a", &i), ParseStatus::kInvalid);
}

TEST_F(TextTableReaderTest, SchemaRoundTripsAndUnknownNamesSuggestTheClosest) {
  TableSchema schema = CriteoTableSchema(true);
  EXPECT_EQ(TableSchema::FromJson(schema.ToJson(), "x").ToJson(), schema.ToJson());
  const std::string yaml_path = Write("s.yaml", schema.ToYaml());
  EXPECT_EQ(TableSchema::Load(yaml_path).ToJson(), schema.ToJson());
  try {
    TableSchema::FromJson(
        nlohmann::json::parse(R"({"fields": [{"name": "a", "role": "dense", "typ": "int64"}]})"),
        "s.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'typ'; did you mean 'type'?"),
              std::string::npos)
        << e.what();
  }
  try {
    TableSchema::FromJson(
        nlohmann::json::parse(R"({"fields": [{"name": "a", "role": "catgorical", "type": "int64"}]})"),
        "s.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'categorical'?"), std::string::npos)
        << e.what();
  }
  try {
    schema.At("C27", "pipeline");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'C2'"), std::string::npos) << e.what();
  }
}

TEST_F(TextTableReaderTest, InferenceFindsTypesRolesListsAndTheCriteoLayout) {
  const std::string csv = Write(
      "mixed.csv",
      "y,price,age,user_id,city,genres,ts,big\n"
      "1,1.5,30,7,Paris,Comedy|Drama,2024-03-01 10:00:00,18446744073709551615\n"
      "0,,41,8,\"Rome, IT\",Action,2024-03-02 11:00:00,1\n"
      "0,2,,9,,Comedy,,2\n");
  const TableSchema schema = InferSchema(csv, InferOptions{});
  EXPECT_TRUE(schema.format.header);
  EXPECT_EQ(schema.format.separator, ',');
  auto field = [&](const std::string& name) { return schema.At(name, "test"); };
  EXPECT_EQ(field("y").role, FieldRole::kLabel);
  EXPECT_EQ(field("price").type.Name(), "float64");
  EXPECT_EQ(field("price").role, FieldRole::kDense);
  EXPECT_EQ(field("age").role, FieldRole::kDense);
  EXPECT_EQ(field("user_id").role, FieldRole::kCategorical);
  EXPECT_EQ(field("city").role, FieldRole::kCategorical);
  EXPECT_EQ(field("genres").type.Name(), "list<string>");
  EXPECT_EQ(field("genres").role, FieldRole::kMultiCategorical);
  EXPECT_EQ(field("ts").type.Name(), "timestamp");
  EXPECT_EQ(field("big").type.Name(), "uint64");
  EXPECT_EQ(Rows(csv, schema).size(), 3u);
  try {
    InferOptions options;
    options.label = "prise";
    InferSchema(csv, options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'price'"), std::string::npos) << e.what();
  }

  std::string criteo;
  for (int r = 0; r < 5; ++r) {
    criteo += std::to_string(r % 2);
    for (int d = 0; d < 13; ++d)
      criteo += "\t" + (d == r ? std::string() : std::to_string(d * r));
    for (int c = 0; c < 26; ++c)
      criteo += "\t" + (c == r ? std::string() : fmt::format("{:08x}", 0xabc00000u + c * 7 + r));
    criteo += "\n";
  }
  const TableSchema inferred = InferSchema(Write("train.txt", criteo), InferOptions{});
  EXPECT_EQ(inferred.ToJson(), CriteoTableSchema(true).ToJson());
}

}  // namespace
}  // namespace aiok::data
