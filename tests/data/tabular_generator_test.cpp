#include "aiok/data/tabular_generator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/splits.h"
#include "aiok/data/tabular_layout.h"

namespace aiok::data {
namespace {
namespace fs = std::filesystem;

// More rows than one chunk, so that two threads really split the work.
constexpr int64_t kRows = 40000;
static_assert(kRows > 2 * TabularGenerator::kChunkRows);

const std::vector<std::string> kColumns = {"y",    "price", "age",    "score",  "big_id",
                                           "city", "user",  "device", "genres", "ts"};

// One CSV record: its fields unquoted, its text as it stands in the file (without the line
// end), and whether any field was quoted.
struct Record {
  std::vector<std::string> fields;
  std::string raw;
  bool quoted = false;
};

// An RFC 4180 parser written for the test, independent of the generator's writer: quoted
// fields may hold separators, doubled quotes and line breaks.
std::vector<Record> ParseCsv(const std::string& text) {
  std::vector<Record> records;
  size_t i = 0;
  while (i < text.size()) {
    Record record;
    const size_t start = i;
    std::string field;
    for (;;) {
      if (i < text.size() && text[i] == '"') {
        record.quoted = true;
        ++i;
        for (;;) {
          if (i >= text.size()) {
            ADD_FAILURE() << "unterminated quote in the record at byte " << start;
            return records;
          }
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          field.push_back(text[i++]);
        }
      }
      while (i < text.size() && text[i] != ',' && text[i] != '\n') {
        EXPECT_NE(text[i], '"') << "a quote inside an unquoted field at byte " << i;
        field.push_back(text[i++]);
      }
      record.fields.push_back(std::move(field));
      field.clear();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    EXPECT_LT(i, text.size()) << "the last record has no line end";
    record.raw = text.substr(start, i - start);
    ++i;  // '\n'
    records.push_back(std::move(record));
  }
  return records;
}

// The quoting RFC 4180 asks for, written again for the test.
std::string EncodeField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos)
    return value;
  std::string out = "\"";
  for (char c : value) {
    out += c;
    if (c == '"')
      out += '"';
  }
  return out + "\"";
}

bool IsDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "[-]digits.dd...d" with exactly `decimals` digits after the point.
bool IsFixed(const std::string& s, int decimals, bool allow_negative) {
  const size_t begin = allow_negative && !s.empty() && s[0] == '-' ? 1 : 0;
  const size_t point = s.find('.');
  return point != std::string::npos && point > begin && IsDigits(s.substr(begin, point - begin)) &&
         s.size() - point - 1 == size_t(decimals) && IsDigits(s.substr(point + 1));
}

bool IsTimestamp(const std::string& s) {
  int year, month, day, hour, minute, second;
  char extra;
  return s.size() == 19 &&
         std::sscanf(s.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%c", &year, &month, &day, &hour, &minute,
                     &second, &extra) == 6 &&
         month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour < 24 && minute < 60 &&
         second < 60;
}

template <size_t N>
std::set<std::string> AsSet(const std::array<std::string_view, N>& values) {
  return std::set<std::string>(values.begin(), values.end());
}

std::string_view TextAt(duckdb_vector vector, size_t row) {
  auto* strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
  return {duckdb_string_t_data(&strings[row]), duckdb_string_t_length(strings[row])};
}

// Every row of a query's single VARCHAR column.
std::vector<std::string> QueryTexts(const std::string& sql) {
  DuckDb db(1);
  DuckResult result = db.Query(sql, "test");
  std::vector<std::string> out;
  for (DuckChunk chunk(result.NextChunk()); chunk; chunk = DuckChunk(result.NextChunk())) {
    for (size_t r = 0; r < chunk.rows(); ++r)
      out.emplace_back(TextAt(chunk.column(0), r));
  }
  return out;
}

class TabularGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("aiok_tabular_" + std::to_string(getpid())));
    Generate(1, "t1");
    Generate(2, "t2");
    const std::vector<Record> records = ParseCsv(ReadFile(Dir("t1") + "/mixed.csv"));
    ASSERT_FALSE(records.empty());
    header_ = new Record(records.front());
    records_ = new std::vector<Record>(records.begin() + 1, records.end());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete header_;
    delete records_;
  }
  static std::string Dir(const std::string& name) { return (*root_ / name).string(); }
  static GeneratorSummary Generate(int threads, const std::string& name, uint64_t seed = 1234,
                                   int64_t rows = kRows) {
    static CancellationToken token;
    TabularGenerator generator;
    generator.options().rows = rows;
    generator.options().users = 5000;
    RunContext ctx;
    ctx.seed = seed;
    ctx.threads = threads;
    ctx.cancel = &token;
    return generator.Generate(ctx, Dir(name));
  }
  static nlohmann::json Manifest(const std::string& name) {
    return nlohmann::json::parse(ReadFile(Dir(name) + "/datagen.json"));
  }
  static std::vector<float> Truth(const std::string& name) {
    const std::string bytes = ReadFile(Dir(name) + "/truth.f32");
    std::vector<float> truth(bytes.size() / sizeof(float));
    std::memcpy(truth.data(), bytes.data(), truth.size() * sizeof(float));
    return truth;
  }
  static std::vector<uint8_t> Labels() {
    std::vector<uint8_t> labels;
    for (const Record& record : *records_)
      labels.push_back(record.fields[0] == "1" ? 1 : 0);
    return labels;
  }
  static int Column(const std::string& name) {
    return static_cast<int>(std::find(kColumns.begin(), kColumns.end(), name) - kColumns.begin());
  }

  static fs::path* root_;
  static Record* header_;
  static std::vector<Record>* records_;
};
fs::path* TabularGeneratorTest::root_ = nullptr;
Record* TabularGeneratorTest::header_ = nullptr;
std::vector<Record>* TabularGeneratorTest::records_ = nullptr;

TEST_F(TabularGeneratorTest, OutputIsIdenticalWhateverTheThreadCount) {
  for (const char* file : {"mixed.csv", "mixed.parquet", "truth.f32", "datagen.json"}) {
    EXPECT_TRUE(ReadFile(Dir("t1") + "/" + file) == ReadFile(Dir("t2") + "/" + file)) << file;
  }
}

TEST_F(TabularGeneratorTest, NoTemporaryFilesRemain) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(Dir("t1")))
    names.insert(entry.path().filename().string());
  EXPECT_EQ(names,
            (std::set<std::string>{"datagen.json", "mixed.csv", "mixed.parquet", "truth.f32"}));
}

TEST_F(TabularGeneratorTest, HeaderAndEveryFieldHaveTheDeclaredFormat) {
  EXPECT_EQ(header_->raw, "y,price,age,score,big_id,city,user,device,genres,ts");
  EXPECT_EQ(header_->fields, kColumns);
  const std::string text = ReadFile(Dir("t1") + "/mixed.csv");
  EXPECT_EQ(text.find('\r'), std::string::npos) << "line ends are \\n";
  ASSERT_EQ(records_->size(), static_cast<size_t>(kRows));

  const auto cities = AsSet(kTabularCities);
  const auto devices = AsSet(kTabularDevices);
  const auto genres = AsSet(kTabularGenres);
  int bad = 0;
  for (size_t r = 0; r < records_->size() && bad < 5; ++r) {
    const auto& f = (*records_)[r].fields;
    if (f.size() != kColumns.size()) {
      ++bad;
      ADD_FAILURE() << "row " << r << ": " << f.size() << " fields: " << (*records_)[r].raw;
      continue;
    }
    bool ok = f[0] == "0" || f[0] == "1";
    auto check = [&](const std::string& name, bool valid) {
      const std::string& value = f[Column(name)];
      if (!value.empty() && !valid) {
        ok = false;
        ADD_FAILURE() << "row " << r << " " << name << ": '" << value << "'";
      }
    };
    check("price", IsFixed(f[1], 2, false) && std::stod(f[1]) > 0);
    check("age", IsDigits(f[2]) && std::stoi(f[2]) >= 18 && std::stoi(f[2]) <= 90);
    check("score", IsFixed(f[3], 3, true));
    check("big_id", IsDigits(f[4]) && f[4].size() <= 20 &&
                        (f[4].size() < 20 || f[4] <= "18446744073709551615"));
    check("city", cities.count(f[5]) == 1);
    check("user", f[6].size() > 1 && f[6][0] == 'u' && IsDigits(f[6].substr(1)) &&
                      std::stoll(f[6].substr(1)) >= 1 && std::stoll(f[6].substr(1)) <= 5000);
    check("device", devices.count(f[7]) == 1);
    std::vector<std::string> listed;
    for (size_t start = 0; !f[8].empty();) {
      const size_t bar = f[8].find('|', start);
      listed.push_back(f[8].substr(start, bar == std::string::npos ? bar : bar - start));
      if (bar == std::string::npos)
        break;
      start = bar + 1;
    }
    const std::set<std::string> distinct(listed.begin(), listed.end());
    check("genres", listed.size() <= 4 && distinct.size() == listed.size() &&
                        std::all_of(listed.begin(), listed.end(),
                                    [&](const std::string& g) { return genres.count(g) == 1; }));
    check("ts", IsTimestamp(f[9]) && f[9] >= "2024-03-01 00:00:00" && f[9] < "2024-06-01");
    bad += !ok;
  }
}

TEST_F(TabularGeneratorTest, EveryColumnButTheLabelHasMissingValues) {
  const auto manifest = Manifest("t1");
  ASSERT_EQ(manifest["columns"].size(), kColumns.size());
  for (size_t c = 0; c < kColumns.size(); ++c) {
    int64_t empty = 0;
    for (const Record& record : *records_)
      empty += record.fields[c].empty();
    const auto& declared = manifest["columns"][c];
    EXPECT_EQ(declared["name"].get<std::string>(), kColumns[c]);
    EXPECT_EQ(declared["missing_rows"].get<int64_t>(), empty) << kColumns[c];
    if (c == 0) {
      EXPECT_EQ(empty, 0) << "the label is never missing";
      continue;
    }
    const double rate = static_cast<double>(empty) / kRows;
    EXPECT_GE(rate, 0.01) << kColumns[c];
    EXPECT_LE(rate, 0.20) << kColumns[c];
    EXPECT_NEAR(rate, declared["missing_rate"].get<double>(), 0.01) << kColumns[c];
  }
}

TEST_F(TabularGeneratorTest, SomeBigIdsAreAboveTwoToThe63) {
  int64_t above = 0;
  std::set<std::string> distinct;
  for (const Record& record : *records_) {
    const std::string& id = record.fields[Column("big_id")];
    if (id.empty())
      continue;
    distinct.insert(id);
    above += std::stoull(id) > (uint64_t{1} << 63);
  }
  EXPECT_GT(above, kRows / 10);
  EXPECT_GT(distinct.size(), 1000u) << "big_id is a high-cardinality column";
  EXPECT_LT(distinct.size(), static_cast<size_t>(kRows) * 9 / 10) << "ids repeat";
}

TEST_F(TabularGeneratorTest, CategoriesRepeatWithZipfLikeFrequencies) {
  std::map<std::string, int64_t> cities;
  std::map<std::string, int64_t> users;
  for (const Record& record : *records_) {
    if (!record.fields[Column("city")].empty())
      ++cities[record.fields[Column("city")]];
    if (!record.fields[Column("user")].empty())
      ++users[record.fields[Column("user")]];
  }
  EXPECT_EQ(cities.size(), kTabularCities.size());
  EXPECT_GT(cities[std::string(kTabularCities[0])], 5 * cities[std::string(kTabularCities[49])]);
  EXPECT_GT(users.size(), 2000u);
  int64_t top = 0;
  for (const auto& [user, count] : users)
    top = std::max(top, count);
  EXPECT_GT(top, 100) << "frequent users come back";
}

TEST_F(TabularGeneratorTest, QuotedFieldsRoundTrip) {
  const std::string text = ReadFile(Dir("t1") + "/mixed.csv");
  EXPECT_NE(text.find(",\"the \"\"X\"\" phone\","), std::string::npos);
  EXPECT_NE(text.find(",\"Pixel 7, Pro\","), std::string::npos);
  int64_t quoted = 0;
  std::set<std::string> quoted_values;
  for (const Record& record : *records_) {
    // Encoding the parsed fields again gives the line back, byte for byte.
    std::string line;
    for (size_t c = 0; c < record.fields.size(); ++c)
      line += (c ? "," : "") + EncodeField(record.fields[c]);
    EXPECT_EQ(line, record.raw);
    if (!record.quoted)
      continue;
    ++quoted;
    for (const std::string& field : record.fields) {
      if (field.find_first_of(",\"") != std::string::npos)
        quoted_values.insert(field);
    }
  }
  EXPECT_GT(quoted, kRows / 10);
  for (const char* value : {"the \"X\" phone", "Pixel 7, Pro", "Washington, D.C."})
    EXPECT_EQ(quoted_values.count(value), 1u) << value;
}

TEST_F(TabularGeneratorTest, ParquetTwinHoldsTheSameRowsWithSqlTypes) {
  const std::string parquet = SqlString(Dir("t1") + "/mixed.parquet");
  const std::vector<std::string> described = QueryTexts(
      "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM read_parquet(" +
      parquet + "))");
  EXPECT_EQ(described,
            (std::vector<std::string>{"y INTEGER", "price DOUBLE", "age BIGINT", "score DOUBLE",
                                      "big_id UBIGINT", "city VARCHAR", "user VARCHAR",
                                      "device VARCHAR", "genres VARCHAR[]", "ts TIMESTAMP"}));
  EXPECT_EQ(QueryTexts("SELECT count(*)::VARCHAR FROM read_parquet(" + parquet + ")"),
            std::vector<std::string>{std::to_string(kRows)});

  // Missing values are NULL, as many as the CSV's empty fields.
  std::string nulls;
  for (const std::string& name : kColumns)
    nulls += (nulls.empty() ? "" : " || ',' || ") + fmt::format("(count(*) - count(\"{}\"))", name);
  std::string expected_nulls;
  for (size_t c = 0; c < kColumns.size(); ++c) {
    int64_t empty = 0;
    for (const Record& record : *records_)
      empty += record.fields[c].empty();
    expected_nulls += (c ? "," : "") + std::to_string(empty);
  }
  EXPECT_EQ(QueryTexts("SELECT " + nulls + " FROM read_parquet(" + parquet + ")"),
            std::vector<std::string>{expected_nulls});

  // Every value, printed back in the CSV's notation, equals the CSV's field as this test's own
  // parser reads it.
  const std::vector<std::string> rows = QueryTexts(
      "SELECT concat_ws(chr(31), coalesce(y::VARCHAR, ''), coalesce(printf('%.2f', price), ''), "
      "coalesce(age::VARCHAR, ''), coalesce(printf('%.3f', score), ''), "
      "coalesce(big_id::VARCHAR, ''), coalesce(city, ''), coalesce(\"user\", ''), "
      "coalesce(device, ''), coalesce(array_to_string(genres, '|'), ''), "
      "coalesce(strftime(ts, '%Y-%m-%d %H:%M:%S'), '')) FROM read_parquet(" +
      parquet + ")");
  ASSERT_EQ(rows.size(), records_->size());
  int mismatches = 0;
  for (size_t r = 0; r < rows.size() && mismatches < 5; ++r) {
    std::string expected;
    for (size_t c = 0; c < kColumns.size(); ++c)
      expected += (c ? "\x1f" : "") + (*records_)[r].fields[c];
    if (rows[r] != expected) {
      ++mismatches;
      ADD_FAILURE() << "row " << r << ": parquet " << rows[r] << " vs csv " << (*records_)[r].raw;
    }
  }
  // A list really is a list.
  EXPECT_EQ(QueryTexts("SELECT max(len(genres))::VARCHAR FROM read_parquet(" + parquet + ")"),
            std::vector<std::string>{"4"});
}

TEST_F(TabularGeneratorTest, BayesMetricsInManifestMatchTruthFile) {
  const auto manifest = Manifest("t1");
  const std::vector<float> truth = Truth("t1");
  const std::vector<uint8_t> labels = Labels();
  ASSERT_EQ(truth.size(), static_cast<size_t>(kRows));
  ASSERT_EQ(labels.size(), static_cast<size_t>(kRows));
  EXPECT_DOUBLE_EQ(manifest["bayes"]["all"]["bayes_auc"].get<double>(),
                   BinaryAuc(truth.data(), labels.data(), kRows));
  EXPECT_DOUBLE_EQ(manifest["bayes"]["all"]["bayes_logloss"].get<double>(),
                   BinaryLogLoss(truth.data(), labels.data(), kRows));
  const SplitRanges splits = KaggleSplits(kRows);
  for (const auto& [name, range] :
       {std::pair{"train", splits.train}, {"valid", splits.valid}, {"test", splits.test}}) {
    const auto& split = manifest["bayes"][name];
    EXPECT_EQ(split["begin"].get<int64_t>(), range.begin) << name;
    EXPECT_EQ(split["end"].get<int64_t>(), range.end) << name;
    EXPECT_DOUBLE_EQ(split["bayes_auc"].get<double>(),
                     BinaryAuc(truth.data() + range.begin, labels.data() + range.begin,
                               static_cast<size_t>(range.size())))
        << name;
  }
  // Learnable but far from trivial.
  const double auc = manifest["bayes"]["all"]["bayes_auc"].get<double>();
  EXPECT_GT(auc, 0.78);
  EXPECT_LT(auc, 0.88);
}

TEST_F(TabularGeneratorTest, PositiveRateIsSaneAndLabelsFollowTruth) {
  const auto manifest = Manifest("t1");
  const std::vector<uint8_t> labels = Labels();
  const double rate = PositiveRate(labels.data(), labels.size());
  EXPECT_DOUBLE_EQ(manifest["positive_rate"].get<double>(), rate);
  EXPECT_NEAR(rate, 0.25, 0.015);
  const std::vector<float> truth = Truth("t1");
  double mean_truth = 0.0;
  for (float p : truth)
    mean_truth += p;
  EXPECT_NEAR(mean_truth / kRows, rate, 0.015);
}

TEST_F(TabularGeneratorTest, ManifestDescribesTheFiles) {
  const auto manifest = Manifest("t1");
  EXPECT_EQ(manifest["generator"], "tabular");
  EXPECT_EQ(manifest["rows"].get<int64_t>(), kRows);
  EXPECT_EQ(manifest["seed"].get<uint64_t>(), 1234u);
  EXPECT_EQ(manifest["options"]["users"].get<int64_t>(), 5000);
  EXPECT_EQ(manifest["label"], "y");
  EXPECT_EQ(manifest["files"]["data_bytes"].get<int64_t>(),
            static_cast<int64_t>(fs::file_size(Dir("t1") + "/mixed.csv")));
  EXPECT_EQ(manifest["files"]["parquet_bytes"].get<int64_t>(),
            static_cast<int64_t>(fs::file_size(Dir("t1") + "/mixed.parquet")));
  std::map<std::string, std::string> types;
  for (const auto& column : manifest["columns"])
    types[column["name"]] = column["type"];
  EXPECT_EQ(types["big_id"], "uint64");
  EXPECT_EQ(types["genres"], "list<string>");
  EXPECT_EQ(types["ts"], "timestamp");
}

TEST_F(TabularGeneratorTest, TimestampsRiseWithTheRow) {
  std::string last;
  for (const Record& record : *records_) {
    const std::string& ts = record.fields[Column("ts")];
    if (ts.empty())
      continue;
    EXPECT_GE(ts, last);
    last = ts;
  }
  EXPECT_GE(last, "2024-05-31");
}

TEST_F(TabularGeneratorTest, DifferentSeedsGiveDifferentData) {
  Generate(1, "seed99", 99, 1000);
  const std::string other = ReadFile(Dir("seed99") + "/mixed.csv");
  const std::string first = ReadFile(Dir("t1") + "/mixed.csv");
  const size_t body = first.find('\n') + 1;
  EXPECT_NE(other.substr(body, 2000), first.substr(body, 2000));
}

TEST_F(TabularGeneratorTest, RegisteredAndBadOptionsAreConfigErrors) {
  GeneratorRegistry registry;
  RegisterBuiltinGenerators(registry);
  EXPECT_NE(registry.Create("tabular"), nullptr);
  TabularGenerator generator;
  generator.options().users = 0;
  try {
    generator.Validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("users"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace aiok::data
