#include "aiok/etl/table_etl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "aiok/core/atomic_file.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/data/dataset.h"
#include "aiok/data/schema.h"
#include "aiok/data/splits.h"
#include "aiok/data/duckdb_client.h"

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;

// The dataset read back as plain row-major arrays of one split.
struct SplitRows {
  std::vector<uint8_t> labels;
  std::vector<float> dense;
  std::vector<int32_t> categorical;
  std::vector<float> truth;
};

SplitRows ReadSplit(const std::string& dir, const std::string& split) {
  const data::DatasetSchema schema = data::ReadDatasetSchema(dir);
  const data::SplitReader reader(dir, schema, split);
  SplitRows out;
  const std::vector<int64_t> shard_rows = reader.shard_rows();
  for (size_t s = 0; s < shard_rows.size(); ++s) {
    const data::FeatureBatch shard = reader.View(static_cast<int64_t>(s), 0, shard_rows[s]);
    out.labels.insert(out.labels.end(), shard.labels, shard.labels + shard.rows);
    out.dense.insert(out.dense.end(), shard.dense, shard.dense + shard.rows * 13);
    out.categorical.insert(out.categorical.end(), shard.categorical,
                           shard.categorical + shard.rows * 26);
  }
  const auto& info = schema.split(split);
  if (!info.truth_file.empty()) {
    const std::string bytes = ReadFile(dir + "/" + info.truth_file);
    out.truth.resize(bytes.size() / 4);
    std::memcpy(out.truth.data(), bytes.data(), bytes.size());
  }
  return out;
}

// The criteo preset written the plainest way: whole file in memory, std::map counts.
struct Straightforward {
  std::vector<std::vector<std::string>> rows;
  std::map<std::string, SplitRows> splits;

  // `split_rule`: which split each line goes to (the fit sees the train lines only).
  Straightforward(const std::string& path, int64_t threshold,
                  const std::string& split_rule = "kaggle") {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> fields;
      std::stringstream ss(line);
      std::string field;
      while (std::getline(ss, field, '\t'))
        fields.push_back(field);
      if (!line.empty() && line.back() == '\t')
        fields.push_back("");
      rows.push_back(fields);
    }
    const int64_t n = static_cast<int64_t>(rows.size());
    const data::SplitRule rule = data::SplitRule::Parse(split_rule);
    const data::SplitRanges ranges = rule.Apply(n);
    auto split_of = [&](int64_t r) { return rule.Of(r, ranges); };
    std::vector<std::map<int64_t, int32_t>> ids(26);
    for (int c = 0; c < 26; ++c) {
      std::map<int64_t, int64_t> counts;
      for (int64_t r = 0; r < n; ++r) {
        if (split_of(r) == data::kTrainSplit && !rows[r][14 + c].empty())
          counts[std::stoll(rows[r][14 + c], nullptr, 16)]++;
      }
      std::vector<std::pair<int64_t, int64_t>> kept;
      for (auto [value, count] : counts) {
        if (count >= threshold)
          kept.push_back({-count, value});
      }
      std::sort(kept.begin(), kept.end());
      for (size_t i = 0; i < kept.size(); ++i)
        ids[c][kept[i].second] = static_cast<int32_t>(i + 2);
    }
    for (int64_t r = 0; r < n; ++r) {
      SplitRows& s = splits[data::SplitNames()[split_of(r)]];
      s.labels.push_back(static_cast<uint8_t>(std::stoi(rows[r][0])));
      for (int d = 0; d < 13; ++d) {
        const std::string& f = rows[r][1 + d];
        const double v = f.empty() ? 0.0 : std::max(0.0, static_cast<double>(std::stoll(f)));
        s.dense.push_back(static_cast<float>(std::log1p(v)));
      }
      for (int c = 0; c < 26; ++c) {
        const std::string& f = rows[r][14 + c];
        if (f.empty()) {
          s.categorical.push_back(0);
          continue;
        }
        auto it = ids[c].find(std::stoll(f, nullptr, 16));
        s.categorical.push_back(it == ids[c].end() ? 1 : it->second);
      }
    }
  }
};

// Every split of two datasets holds the same rows.
void ExpectSameRows(const std::string& dir_a, const std::string& dir_b) {
  for (const char* split : {"train", "valid", "test"}) {
    const SplitRows a = ReadSplit(dir_a, split);
    const SplitRows b = ReadSplit(dir_b, split);
    EXPECT_EQ(a.labels, b.labels) << split;
    EXPECT_EQ(a.dense, b.dense) << split;
    EXPECT_EQ(a.categorical, b.categorical) << split;
  }
}

class CriteoEtlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("aiok_etl_" + std::to_string(getpid())));
    static CancellationToken token;
    data::CriteoGenerator generator;
    generator.options().rows = 7000;
    generator.options().card_scale = 0.001;  // small vocabularies: thresholds matter
    RunContext ctx{3, 2, &token};
    generator.Generate(ctx, (*root_ / "raw").string());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override {
    ctx_.threads = 2;
    ctx_.cancel = &token_;
  }
  static std::string Raw() { return (*root_ / "raw" / "train.txt").string(); }
  static std::string Out(const std::string& name) { return (*root_ / name).string(); }

  // The Criteo preset on Criteo's layout, through the ETL every table takes.
  EtlSummary Run(const std::string& input, const std::string& out, TableEtlOptions options = {},
                 int64_t threshold = 3) {
    options.input = input;
    options.out_dir = out;
    return RunWith(CriteoPreset(threshold), options);
  }
  EtlSummary RunWith(const PipelineSpec& spec, TableEtlOptions options) {
    options.schema = data::CriteoTableSchema(true);
    return RunTableEtl(spec, options, ctx_);
  }

  std::string Write(const std::string& name, const std::string& contents) {
    fs::create_directories(*root_ / "bad");
    const std::string path = (*root_ / "bad" / name).string();
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  static fs::path* root_;
  CancellationToken token_;
  RunContext ctx_;
};
fs::path* CriteoEtlTest::root_ = nullptr;

TEST_F(CriteoEtlTest, PresetMatchesStraightforwardImplementation) {
  const Straightforward expected(Raw(), 3);
  TableEtlOptions several_shards;
  several_shards.shard_rows = 1000;  // several shards per split
  Run(Raw(), Out("shards_1000"), several_shards);
  TableEtlOptions small_batches;
  small_batches.shard_rows = 333;        // shard boundaries inside batches
  small_batches.range_bytes = 64 << 10;  // many batches; the train split ends inside one
  Run(Raw(), Out("small"), small_batches);
  TableEtlOptions spilled = small_batches;
  spilled.memory_budget = 200 << 10;  // the first batches in memory, the rest on disk
  Run(Raw(), Out("spilled"), spilled);
  for (const char* dir : {"shards_1000", "small", "spilled"}) {
    for (const char* split : {"train", "valid", "test"}) {
      const SplitRows got = ReadSplit(Out(dir), split);
      const SplitRows& want = expected.splits.at(split);
      EXPECT_EQ(got.labels, want.labels) << dir << " " << split;
      EXPECT_EQ(got.categorical, want.categorical) << dir << " " << split;
      ASSERT_EQ(got.dense.size(), want.dense.size());
      for (size_t i = 0; i < got.dense.size(); ++i) {
        ASSERT_NEAR(got.dense[i], want.dense[i], 1e-6) << dir << " " << split << " value " << i;
      }
    }
  }
}

TEST_F(CriteoEtlTest, FittedDenseChainsAndFitFreeCategoriesMatchByHand) {
  // Dense: fill with the train median, then standardize with train statistics of the filled
  // values: two fit phases, so dense values leave pass 1 raw and are finished afterwards.
  // Categorical: hash_bucket (no fit) on C1..C13, categorify on C14..C26.
  const std::string yaml = R"(
steps:
  - columns: [I1..I13]
    ops: [{fill_missing: {strategy: median}}, {normalize: {method: standard}}]
  - columns: [C1..C13]
    ops: [{hash_bucket: {buckets: 1000}}]
  - columns: [C14..C26]
    ops: [{categorify: {freq_threshold: 2}}]
)";
  const PipelineSpec spec = PipelineSpec::FromJson(ParseConfigText(yaml, "p.yaml"), "p.yaml");
  TableEtlOptions options;
  options.input = Raw();
  options.out_dir = Out("fitted_dense");
  options.shard_rows = 2500;
  RunWith(spec, options);
  // The same in many small batches, every one spilled to disk between the passes.
  options.out_dir = Out("fitted_dense_spilled");
  options.range_bytes = 64 << 10;
  options.memory_budget = 1;
  RunWith(spec, options);
  ExpectSameRows(Out("fitted_dense"), Out("fitted_dense_spilled"));

  const Straightforward raw(Raw(), 2);
  const int64_t train_end = 6000;
  std::vector<std::vector<double>> filled(13);
  std::vector<double> mean(13), stddev(13);
  for (int d = 0; d < 13; ++d) {
    std::vector<double> present;
    for (int64_t r = 0; r < train_end; ++r) {
      if (!raw.rows[r][1 + d].empty())
        present.push_back(std::stod(raw.rows[r][1 + d]));
    }
    std::sort(present.begin(), present.end());
    const size_t n = present.size();
    const double median = (present[(n - 1) / 2] + present[n / 2]) / 2;
    double sum = 0;
    for (int64_t r = 0; r < 7000; ++r) {
      const std::string& f = raw.rows[r][1 + d];
      filled[d].push_back(f.empty() ? median : std::stod(f));
      if (r < train_end)
        sum += filled[d].back();
    }
    mean[d] = sum / train_end;
    double m2 = 0;
    for (int64_t r = 0; r < train_end; ++r)
      m2 += (filled[d][r] - mean[d]) * (filled[d][r] - mean[d]);
    stddev[d] = std::sqrt(m2 / train_end);
  }
  OperatorRegistry registry;
  RegisterBuiltinOperators(registry);
  auto bucket = registry.Create("hash_bucket", {{"buckets", 1000}}, "test");
  const SplitRows test = ReadSplit(Out("fitted_dense"), "test");
  ASSERT_EQ(test.labels.size(), 500u);
  for (int64_t i = 0; i < 500; ++i) {
    const int64_t r = 6500 + i;
    for (int d = 0; d < 13; ++d) {
      const double want =
          stddev[d] > 0 ? (filled[d][r] - mean[d]) / stddev[d] : filled[d][r] - mean[d];
      ASSERT_NEAR(test.dense[i * 13 + d], want, 1e-4 * (1 + std::fabs(want))) << "I" << d + 1;
    }
    for (int c = 0; c < 13; ++c) {
      const std::string& f = raw.rows[r][14 + c];
      const int64_t value = f.empty() ? kMissingValue : std::stoll(f, nullptr, 16);
      int64_t id;
      bucket->TransformCategorical(&value, 1, &id);
      ASSERT_EQ(test.categorical[i * 26 + c], id) << "C" << c + 1;
    }
    for (int c = 13; c < 26; ++c) {
      ASSERT_EQ(test.categorical[i * 26 + c], raw.splits.at("test").categorical[i * 26 + c])
          << "C" << c + 1;
    }
  }
  // No intermediate files are left in the datasets.
  for (const char* dir : {"fitted_dense", "fitted_dense_spilled"}) {
    EXPECT_FALSE(fs::exists(Out(dir) + "/pass1.spill")) << dir;
  }
}

TEST_F(CriteoEtlTest, SchemaRecordsSplitsCardinalitiesSourceAndTruth) {
  Run(Raw(), Out("schema"));
  const data::DatasetSchema schema = data::ReadDatasetSchema(Out("schema"));
  EXPECT_EQ(schema.split("train").lines.begin, 0);
  EXPECT_EQ(schema.split("train").lines.end, 6000);
  EXPECT_EQ(schema.split("valid").lines.begin, 6000);
  EXPECT_EQ(schema.split("valid").lines.end, 6500);
  EXPECT_EQ(schema.split("test").lines.end, 7000);
  EXPECT_EQ(schema.split("train").rows, 6000);
  EXPECT_EQ(schema.source["lines"], 7000);
  EXPECT_EQ(schema.source["bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(Raw())));
  ASSERT_EQ(schema.features.categorical.size(), 26u);
  for (int c = 0; c < 26; ++c) {
    int32_t max_id = 0;
    for (const char* split : {"train", "valid", "test"}) {
      const SplitRows rows = ReadSplit(Out("schema"), split);
      for (size_t r = 0; r < rows.labels.size(); ++r)
        max_id = std::max(max_id, rows.categorical[r * 26 + c]);
    }
    EXPECT_LT(max_id, schema.features.categorical[c].cardinality) << "C" << c + 1;
  }
  // truth.f32 beside the input is split with the rows.
  const std::string all = ReadFile((*root_ / "raw" / "truth.f32").string());
  const SplitRows test = ReadSplit(Out("schema"), "test");
  ASSERT_EQ(test.truth.size(), 500u);
  EXPECT_EQ(std::memcmp(test.truth.data(), all.data() + 6500 * 4, 500 * 4), 0);
}

TEST_F(CriteoEtlTest, FractionSplitRuleCutsAtTheFractions) {
  TableEtlOptions options;
  options.split_rule = "fractions:0.5,0.25";
  Run(Raw(), Out("fractions"), options);
  const data::DatasetSchema schema = data::ReadDatasetSchema(Out("fractions"));
  EXPECT_EQ(schema.split_rule, "fractions:0.5,0.25");
  EXPECT_EQ(schema.split("train").rows, 3500);
  EXPECT_EQ(schema.split("valid").rows, 1750);
  EXPECT_EQ(schema.split("test").rows, 1750);
  EXPECT_EQ(schema.split("valid").lines.begin, 3500);
  EXPECT_EQ(schema.split("test").lines.begin, 5250);
  EXPECT_THROW(
      {
        TableEtlOptions bad;
        bad.split_rule = "random:0.9";
        Run(Raw(), Out("bad_rule"), bad);
      },
      Error);
}

TEST_F(CriteoEtlTest, RandomSplitDrawsEachLineByItsSeedWhateverTheBatching) {
  const std::string rule = "random:0.7,0.2,42";
  const Straightforward expected(Raw(), 3, rule);
  TableEtlOptions one_batch;
  one_batch.split_rule = rule;
  Run(Raw(), Out("random"), one_batch);
  TableEtlOptions many = one_batch;
  many.range_bytes = 50 << 10;  // many batches, each with rows of every split
  many.shard_rows = 700;
  Run(Raw(), Out("random_batched"), many);
  for (const char* dir : {"random", "random_batched"}) {
    for (const char* split : {"train", "valid", "test"}) {
      const SplitRows got = ReadSplit(Out(dir), split);
      const SplitRows& want = expected.splits.at(split);
      EXPECT_EQ(got.labels, want.labels) << dir << " " << split;
      EXPECT_EQ(got.categorical, want.categorical) << dir << " " << split;
      ASSERT_EQ(got.dense.size(), want.dense.size());
      for (size_t i = 0; i < got.dense.size(); ++i)
        ASSERT_NEAR(got.dense[i], want.dense[i], 1e-6) << dir << " " << split << " value " << i;
    }
  }
  // About the fractions asked for; the truth follows its rows.
  const data::DatasetSchema schema = data::ReadDatasetSchema(Out("random"));
  EXPECT_NEAR(schema.split("train").rows, 4900, 150);
  EXPECT_NEAR(schema.split("valid").rows, 1400, 120);
  EXPECT_EQ(schema.split("train").rows + schema.split("valid").rows + schema.split("test").rows, 7000);
  const std::string all_truth = ReadFile((*root_ / "raw" / "truth.f32").string());
  const SplitRows valid = ReadSplit(Out("random"), "valid");
  const data::SplitRule parsed = data::SplitRule::Parse(rule);
  const data::SplitRanges ranges = parsed.Apply(7000);
  size_t i = 0;
  for (int64_t r = 0; r < 7000; ++r) {
    if (parsed.Of(r, ranges) != data::kValidSplit)
      continue;
    float want;
    std::memcpy(&want, all_truth.data() + r * 4, 4);
    ASSERT_LT(i, valid.truth.size());
    ASSERT_EQ(valid.truth[i++], want) << "record " << r;
  }
  EXPECT_EQ(i, valid.truth.size());
  // Another seed draws other rows.
  TableEtlOptions other = one_batch;
  other.split_rule = "random:0.7,0.2,43";
  Run(Raw(), Out("random_43"), other);
  EXPECT_NE(ReadSplit(Out("random_43"), "test").categorical,
            ReadSplit(Out("random"), "test").categorical);
}

TEST_F(CriteoEtlTest, FittedStateReloadsToIdenticalTransform) {
  Run(Raw(), Out("state"));
  const auto state = nlohmann::json::parse(ReadFile(Out("state") + "/etl_state/pipeline.json"));
  std::vector<std::string> dense, cats;
  for (int d = 1; d <= 13; ++d)
    dense.push_back("I" + std::to_string(d));
  for (int c = 1; c <= 26; ++c)
    cats.push_back("C" + std::to_string(c));
  Pipeline reloaded = Pipeline::LoadState(state, dense, cats, "pipeline.json");
  // Re-transform the test split's raw rows with the reloaded state.
  const Straightforward raw(Raw(), 3);
  const SplitRows test = ReadSplit(Out("state"), "test");
  for (int c = 0; c < 26; ++c) {
    std::vector<int64_t> values;
    for (int64_t r = 6500; r < 7000; ++r) {
      const std::string& f = raw.rows[r][14 + c];
      values.push_back(f.empty() ? kMissingValue : std::stoll(f, nullptr, 16));
    }
    std::vector<int64_t> ids(values.size());
    reloaded.categorical()[c].ops[0]->TransformCategorical(values.data(), values.size(),
                                                           ids.data());
    for (size_t r = 0; r < ids.size(); ++r)
      ASSERT_EQ(ids[r], test.categorical[r * 26 + c]);
  }
}

TEST_F(CriteoEtlTest, BadLineFailsNamingItAndLeavesNoOutput) {
  std::string text = ReadFile(Raw()).substr(0, 200000);
  text = text.substr(0, text.rfind('\n', 100000) + 1) + "1\tx\n" +
         text.substr(text.rfind('\n', 100000) + 1);
  const std::string input = Write("bad.txt", text);
  try {
    Run(input, Out("failed"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("bad.txt:"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(Out("failed")));
  for (const auto& entry : fs::directory_iterator(*root_)) {
    EXPECT_EQ(entry.path().filename().string().find("failed.tmp"), std::string::npos);
  }
}

TEST_F(CriteoEtlTest, SkipModeWritesRejectsAndCountsThem) {
  const std::string good = ReadFile(Raw()).substr(0, 50000);
  std::vector<std::string> lines;
  std::stringstream ss(good);
  std::string line;
  while (std::getline(ss, line))
    lines.push_back(line);
  lines.pop_back();                                                // may be cut
  lines[3] = "1\t2";                                               // wrong field count
  lines[10] = lines[10].substr(0, 2) + "q" + lines[10].substr(2);  // non-integer I1
  std::string text;
  for (const auto& l : lines)
    text += l + "\n";
  text += "0\t1\t2";  // truncated last line
  const std::string input = Write("mixed.txt", text);
  TableEtlOptions options;
  options.on_error = data::OnError::kSkip;
  const EtlSummary summary = Run(input, Out("skipped"), options);
  EXPECT_EQ(summary.rejected, 3);
  EXPECT_EQ(summary.rows, static_cast<int64_t>(lines.size()) - 2);
  const data::DatasetSchema schema = data::ReadDatasetSchema(Out("skipped"));
  EXPECT_EQ(schema.rejected, 3);
  const std::string rejects = ReadFile(Out("skipped") + "/rejects.tsv");
  EXPECT_NE(rejects.find("4\tcolumn"), std::string::npos) << rejects;
  EXPECT_NE(rejects.find("11\tcolumn"), std::string::npos) << rejects;
  EXPECT_NE(rejects.find(std::to_string(lines.size() + 1) + "\tcolumn"), std::string::npos)
      << rejects;
  EXPECT_NE(rejects.find("expected 40 fields, found 3"), std::string::npos) << rejects;
  int64_t rows = 0;
  for (const auto& split : schema.splits)
    rows += split.rows;
  EXPECT_EQ(rows, summary.rows);
}

TEST_F(CriteoEtlTest, EmptyAndMissingInputs) {
  EXPECT_THROW(Run(Write("empty.txt", ""), Out("empty")), Error);
  try {
    Run(Out("no_such_file.txt"), Out("missing"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("no_such_file.txt"), std::string::npos);
  }
}

TEST_F(CriteoEtlTest, ParquetInputGivesTheSameDataset) {
  // The same rows as Parquet (written by DuckDB from the TSV) make the same dataset.
  std::string columns = "'label': 'INTEGER'";
  for (int d = 1; d <= 13; ++d)
    columns += fmt::format(", 'I{}': 'BIGINT'", d);
  for (int c = 1; c <= 26; ++c)
    columns += fmt::format(", 'C{}': 'VARCHAR'", c);
  const std::string parquet = Out("raw.parquet");
  {
    data::DuckDb db(2);
    db.Query("COPY (SELECT * FROM read_csv(" + data::SqlString(Raw()) +
                 ", delim='\\t', header=false, columns={" + columns + "})) TO " +
                 data::SqlString(parquet) + " (FORMAT PARQUET)",
             "test");
  }
  Run(Raw(), Out("from_tsv"));
  Run(parquet, Out("from_parquet"));
  EXPECT_EQ(data::ReadDatasetSchema(Out("from_parquet")).source["format"], "parquet");
  ExpectSameRows(Out("from_tsv"), Out("from_parquet"));
}

TEST_F(CriteoEtlTest, RefusesToReplaceADirectoryThatIsNotADataset) {
  fs::create_directories(Out("precious"));
  std::ofstream(Out("precious") + "/notes.txt") << "keep me";
  EXPECT_THROW(Run(Raw(), Out("precious")), Error);
  EXPECT_TRUE(fs::exists(Out("precious") + "/notes.txt"));
  // An earlier dataset is replaced whole.
  Run(Raw(), Out("again"));
  const int64_t before = data::ReadDatasetSchema(Out("again")).features.categorical[2].cardinality;
  Run(Raw(), Out("again"), {}, 1);
  EXPECT_GT(data::ReadDatasetSchema(Out("again")).features.categorical[2].cardinality, before);
}

}  // namespace
}  // namespace aiok::etl
