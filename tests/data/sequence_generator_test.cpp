#include "aiok/data/sequence_generator.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
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
#include "aiok/data/dataset.h"
#include "aiok/data/splits.h"

namespace aiok::data {
namespace {
namespace fs = std::filesystem;

// Enough users for three user chunks and rows for several row chunks, so that two threads
// really split both phases; small enough to run in a second.
constexpr int64_t kUsers = 3000;
static_assert(kUsers > 2 * SequenceGenerator::kChunkUsers);
constexpr int64_t kItems = 4000;
constexpr int64_t kCategories = 60;
constexpr int64_t kEventsPerUser = 15;
constexpr int64_t kMaxHistory = 8;  // below the longest histories, so the cap is exercised

const std::vector<std::string> kColumns = {"user_id", "item_id",    "cat_id",   "timestamp",
                                           "label",   "hist_items", "hist_cats"};

struct Row {
  int64_t user = 0;
  int64_t item = 0;
  int64_t category = 0;
  int64_t timestamp = 0;
  int label = 0;
  std::vector<int64_t> hist_items;
  std::vector<int64_t> hist_cats;
};

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos)
      return parts;
    start = end + 1;
  }
}

bool IsDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<int64_t> ParseList(const std::string& text) {
  std::vector<int64_t> values;
  if (text.empty())
    return values;
  for (const std::string& part : Split(text, '|')) {
    EXPECT_TRUE(IsDigits(part)) << "list element '" << part << "' in '" << text << "'";
    values.push_back(IsDigits(part) ? std::stoll(part) : -1);
  }
  return values;
}

// events.csv read by the test's own parser (the file has no quoting): the header's fields and
// the rows.
std::vector<Row> ParseEvents(const std::string& text, std::vector<std::string>* header) {
  std::vector<Row> rows;
  std::vector<std::string> lines = Split(text, '\n');
  EXPECT_TRUE(!lines.empty() && lines.back().empty()) << "the file ends with a line end";
  lines.pop_back();
  *header = Split(lines.at(0), ',');
  int bad = 0;
  for (size_t l = 1; l < lines.size(); ++l) {
    const std::vector<std::string> f = Split(lines[l], ',');
    const bool ok = f.size() == kColumns.size() && IsDigits(f[0]) && IsDigits(f[1]) &&
                    IsDigits(f[2]) && IsDigits(f[3]) && (f[4] == "0" || f[4] == "1");
    if (!ok) {
      if (++bad <= 5)
        ADD_FAILURE() << "line " << l << ": " << lines[l];
      continue;
    }
    Row row;
    row.user = std::stoll(f[0]);
    row.item = std::stoll(f[1]);
    row.category = std::stoll(f[2]);
    row.timestamp = std::stoll(f[3]);
    row.label = f[4] == "1";
    row.hist_items = ParseList(f[5]);
    row.hist_cats = ParseList(f[6]);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<float> ReadFloats(const std::string& path) {
  const std::string bytes = ReadFile(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

// Mean label against mean probability within ten bins of the probability: how far the worst
// bin (with enough rows to tell) is off.
double WorstCalibrationGap(const std::vector<float>& p, const std::vector<uint8_t>& labels) {
  std::vector<double> sum_p(10), sum_y(10), n(10);
  for (size_t i = 0; i < p.size(); ++i) {
    const auto bin = std::min<size_t>(9, static_cast<size_t>(p[i] * 10.0f));
    sum_p[bin] += p[i];
    sum_y[bin] += labels[i];
    n[bin] += 1;
  }
  double worst = 0.0;
  for (size_t b = 0; b < 10; ++b) {
    if (n[b] < 2000)
      continue;
    worst = std::max(worst, std::fabs(sum_y[b] - sum_p[b]) / n[b]);
  }
  return worst;
}

class SequenceGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ =
        new fs::path(fs::temp_directory_path() / ("aiok_sequences_" + std::to_string(getpid())));
    Generate(1, "t1");
    Generate(2, "t2");
    header_ = new std::vector<std::string>();
    rows_ = new std::vector<Row>(ParseEvents(ReadFile(Dir("t1") + "/events.csv"), header_));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete header_;
    delete rows_;
  }
  static std::string Dir(const std::string& name) { return (*root_ / name).string(); }
  static GeneratorSummary Generate(int threads, const std::string& name, uint64_t seed = 1234,
                                   int64_t users = kUsers) {
    static CancellationToken token;
    SequenceGenerator generator;
    generator.options().users = users;
    generator.options().items = kItems;
    generator.options().categories = kCategories;
    generator.options().events_per_user = kEventsPerUser;
    generator.options().max_history = kMaxHistory;
    RunContext ctx;
    ctx.seed = seed;
    ctx.threads = threads;
    ctx.cancel = &token;
    return generator.Generate(ctx, Dir(name));
  }
  static nlohmann::json Manifest(const std::string& name) {
    return nlohmann::json::parse(ReadFile(Dir(name) + "/datagen.json"));
  }
  static std::vector<uint8_t> Labels() {
    std::vector<uint8_t> labels;
    for (const Row& row : *rows_)
      labels.push_back(static_cast<uint8_t>(row.label));
    return labels;
  }

  static fs::path* root_;
  static std::vector<std::string>* header_;
  static std::vector<Row>* rows_;
};
fs::path* SequenceGeneratorTest::root_ = nullptr;
std::vector<std::string>* SequenceGeneratorTest::header_ = nullptr;
std::vector<Row>* SequenceGeneratorTest::rows_ = nullptr;

TEST_F(SequenceGeneratorTest, OutputIsIdenticalWhateverTheThreadCount) {
  for (const char* file :
       {"events.csv", "items.csv", "schema.yaml", "truth.f32", "nohistory.f32", "datagen.json"}) {
    EXPECT_TRUE(ReadFile(Dir("t1") + "/" + file) == ReadFile(Dir("t2") + "/" + file)) << file;
  }
}

TEST_F(SequenceGeneratorTest, WritesExactlyTheDeclaredFiles) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(Dir("t1")))
    names.insert(entry.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"datagen.json", "events.csv", "items.csv",
                                          "nohistory.f32", "schema.yaml", "truth.f32"}));
}

TEST_F(SequenceGeneratorTest, FilesHaveTheDeclaredShapes) {
  EXPECT_EQ(*header_, kColumns);
  const auto manifest = Manifest("t1");
  const auto rows = manifest["rows"].get<int64_t>();
  ASSERT_EQ(static_cast<int64_t>(rows_->size()), rows);
  // ~15 impressions per user on average; lengths vary.
  EXPECT_GT(rows, kUsers * kEventsPerUser * 9 / 10);
  EXPECT_LT(rows, kUsers * kEventsPerUser * 11 / 10);
  EXPECT_EQ(ReadFloats(Dir("t1") + "/truth.f32").size(), static_cast<size_t>(rows));
  EXPECT_EQ(ReadFloats(Dir("t1") + "/nohistory.f32").size(), static_cast<size_t>(rows));

  // items.csv: every item once, ids 1..items, every category used.
  std::vector<std::string> lines = Split(ReadFile(Dir("t1") + "/items.csv"), '\n');
  ASSERT_EQ(lines.size(), static_cast<size_t>(kItems) + 2);
  EXPECT_EQ(lines.front(), "item_id,cat_id");
  std::map<int64_t, int64_t> category_of;
  std::set<int64_t> categories;
  for (size_t l = 1; l + 1 < lines.size(); ++l) {
    const auto f = Split(lines[l], ',');
    ASSERT_EQ(f.size(), 2u) << lines[l];
    category_of[std::stoll(f[0])] = std::stoll(f[1]);
    categories.insert(std::stoll(f[1]));
  }
  EXPECT_EQ(category_of.size(), static_cast<size_t>(kItems));
  EXPECT_EQ(category_of.begin()->first, 1);
  EXPECT_EQ(category_of.rbegin()->first, kItems);
  EXPECT_EQ(categories.size(), static_cast<size_t>(kCategories));
  EXPECT_EQ(*categories.begin(), 1);

  // Every row: ids in range, the row's and the history's categories as items.csv says, and
  // time never goes back.
  std::set<int64_t> users;
  int64_t last_time = 0;
  int bad = 0;
  for (size_t r = 0; r < rows_->size() && bad < 5; ++r) {
    const Row& row = (*rows_)[r];
    bool ok = row.user >= 1 && row.user <= kUsers && category_of.count(row.item) == 1 &&
              category_of[row.item] == row.category && row.timestamp >= last_time &&
              row.hist_items.size() == row.hist_cats.size() &&
              row.hist_items.size() <= static_cast<size_t>(kMaxHistory);
    for (size_t h = 0; ok && h < row.hist_items.size(); ++h)
      ok = category_of.count(row.hist_items[h]) == 1 &&
           category_of[row.hist_items[h]] == row.hist_cats[h];
    if (!ok) {
      ++bad;
      ADD_FAILURE() << "row " << r << " (user " << row.user << ", item " << row.item << ")";
    }
    last_time = row.timestamp;
    users.insert(row.user);
  }
  EXPECT_EQ(users.size(), static_cast<size_t>(kUsers)) << "every user has an impression";
  EXPECT_GE(rows_->front().timestamp, 1704067200);  // 2024-01-01
  EXPECT_LT(rows_->back().timestamp, 1704067200 + 61 * 86400);
}

TEST_F(SequenceGeneratorTest, HistoryIsExactlyThePreviousClicksCapped) {
  // Replays the file: each user's clicks so far, from the rows before (rows are in time
  // order, and a user's rows in their stream's order).
  std::map<int64_t, std::vector<std::pair<int64_t, int64_t>>> clicks;
  int64_t capped = 0;
  int64_t with_history = 0;
  int bad = 0;
  for (size_t r = 0; r < rows_->size() && bad < 5; ++r) {
    const Row& row = (*rows_)[r];
    const auto& past = clicks[row.user];
    const size_t keep = std::min(past.size(), static_cast<size_t>(kMaxHistory));
    std::vector<int64_t> items, cats;
    for (size_t k = past.size() - keep; k < past.size(); ++k) {
      items.push_back(past[k].first);
      cats.push_back(past[k].second);
    }
    if (row.hist_items != items || row.hist_cats != cats) {
      ++bad;
      ADD_FAILURE() << "row " << r << " of user " << row.user << ": history differs from the "
                    << keep << " clicks before it";
    }
    capped += past.size() > static_cast<size_t>(kMaxHistory);
    with_history += !past.empty();
    if (row.label)
      clicks[row.user].emplace_back(row.item, row.category);
  }
  EXPECT_GT(capped, 100) << "the cap was not exercised";
  EXPECT_GT(with_history, static_cast<int64_t>(rows_->size()) / 2);
  EXPECT_EQ(Manifest("t1")["sequences"][0]["longest"].get<int64_t>(), kMaxHistory);
}

TEST_F(SequenceGeneratorTest, LabelsFollowTheTruth) {
  const auto manifest = Manifest("t1");
  const std::vector<uint8_t> labels = Labels();
  const std::vector<float> truth = ReadFloats(Dir("t1") + "/truth.f32");
  const std::vector<float> no_history = ReadFloats(Dir("t1") + "/nohistory.f32");
  ASSERT_EQ(truth.size(), labels.size());
  const double rate = PositiveRate(labels.data(), labels.size());
  EXPECT_DOUBLE_EQ(manifest["positive_rate"].get<double>(), rate);
  EXPECT_NEAR(rate, 0.25, 0.015);
  double mean_truth = 0.0;
  double mean_no_history = 0.0;
  for (size_t i = 0; i < truth.size(); ++i) {
    mean_truth += truth[i];
    mean_no_history += no_history[i];
  }
  mean_truth /= static_cast<double>(truth.size());
  mean_no_history /= static_cast<double>(truth.size());
  EXPECT_NEAR(mean_truth, rate, 0.01);
  // Both are conditional click probabilities: calibrated overall and bin by bin. A wrong
  // marginalization over the focus would not be.
  EXPECT_NEAR(mean_no_history, rate, 0.01);
  EXPECT_LT(WorstCalibrationGap(truth, labels), 0.03);
  EXPECT_LT(WorstCalibrationGap(no_history, labels), 0.03);
}

TEST_F(SequenceGeneratorTest, HistoryMattersBayesAucIsFarAboveTheNoHistoryBound) {
  const auto manifest = Manifest("t1");
  const std::vector<uint8_t> labels = Labels();
  const std::vector<float> truth = ReadFloats(Dir("t1") + "/truth.f32");
  const std::vector<float> no_history = ReadFloats(Dir("t1") + "/nohistory.f32");
  const auto n = labels.size();
  // The manifest's figures are the files' (Kaggle splits by row, so by time).
  EXPECT_DOUBLE_EQ(manifest["bayes"]["all"]["bayes_auc"].get<double>(),
                   BinaryAuc(truth.data(), labels.data(), n));
  EXPECT_DOUBLE_EQ(manifest["no_history"]["all"]["auc"].get<double>(),
                   BinaryAuc(no_history.data(), labels.data(), n));
  const SplitRanges splits = KaggleSplits(static_cast<int64_t>(n));
  EXPECT_DOUBLE_EQ(
      manifest["no_history"]["test"]["auc"].get<double>(),
      BinaryAuc(no_history.data() + splits.test.begin, labels.data() + splits.test.begin,
                static_cast<size_t>(splits.test.size())));
  EXPECT_EQ(manifest["bayes"]["test"]["begin"].get<int64_t>(), splits.test.begin);
  for (const char* split : {"all", "train", "valid", "test"}) {
    const double bayes = manifest["bayes"][split]["bayes_auc"].get<double>();
    const double none = manifest["no_history"][split]["auc"].get<double>();
    const double filter = manifest["history_filter"][split]["auc"].get<double>();
    EXPECT_GT(bayes, 0.80) << split;
    EXPECT_LT(none, 0.75) << split;
    EXPECT_GT(bayes - none, 0.10) << split;
    // A predictor that reads only the past clicks already beats every no-history model.
    EXPECT_GT(filter - none, 0.03) << split;
    EXPECT_LT(filter, bayes) << split;
  }
}

TEST_F(SequenceGeneratorTest, EtlIngestsTheHistoriesAsSequences) {
  const std::string dataset = Dir("dataset");
  const std::string command = std::string(AIOK_BINARY) + " etl -q --input " + Dir("t1") +
                              "/events.csv --schema " + Dir("t1") + "/schema.yaml --out " +
                              dataset + " > " + Dir("etl.log") + " 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n"
                                                             << ReadFile(Dir("etl.log"));
  const DatasetSchema schema = ReadDatasetSchema(dataset);
  const FeatureLayout& layout = schema.features;
  ASSERT_EQ(layout.jagged.size(), 2u);
  int64_t distinct_clicked = 0;
  {
    std::set<int64_t> clicked;
    for (size_t r = 0; r < static_cast<size_t>(schema.split("train").rows); ++r) {
      if ((*rows_)[r].label)
        clicked.insert((*rows_)[r].item);
    }
    distinct_clicked = static_cast<int64_t>(clicked.size());
  }
  EXPECT_EQ(layout.jagged[0].name, "hist_items");
  EXPECT_EQ(layout.jagged[1].name, "hist_cats");
  for (const JaggedFeature& jagged : layout.jagged) {
    EXPECT_EQ(jagged.kind, JaggedFeature::Kind::kSequence) << jagged.name;
    EXPECT_EQ(jagged.max_length, kMaxHistory) << jagged.name;
  }
  // Categorify: 0 missing, 1 rare, then the values seen at least 3 times in train.
  EXPECT_LE(layout.jagged[0].cardinality, 2 + distinct_clicked);
  EXPECT_GT(layout.jagged[0].cardinality, 100);
  EXPECT_LE(layout.jagged[1].cardinality, 2 + kCategories);
  EXPECT_GT(layout.jagged[1].cardinality, kCategories / 2);
  std::vector<std::string> categorical;
  for (const auto& feature : layout.categorical)
    categorical.push_back(feature.name);
  EXPECT_EQ(categorical, (std::vector<std::string>{"user_id", "item_id", "cat_id", "timestamp.hour",
                                                   "timestamp.weekday"}));
  EXPECT_TRUE(layout.dense.empty());

  // The train split is the file's first rows: each row's lists are as long as its history, and
  // a category always becomes the same id.
  SplitReader reader(dataset, schema, "train");
  ASSERT_GT(reader.rows(), 0);
  const auto n = static_cast<int64_t>(reader.rows());
  std::vector<RowRef> refs;
  int64_t shard = 0, within = 0;
  for (int64_t shard_rows : reader.shard_rows()) {
    for (within = 0; within < shard_rows; ++within)
      refs.push_back({shard, within});
    ++shard;
  }
  ASSERT_EQ(static_cast<int64_t>(refs.size()), n);
  const FeatureBatch batch = reader.Gather(refs);
  std::map<int64_t, int32_t> category_id;
  int bad = 0;
  for (int64_t r = 0; r < n && bad < 5; ++r) {
    const Row& row = (*rows_)[static_cast<size_t>(r)];
    bool ok = batch.jagged[0].length(r) == static_cast<int64_t>(row.hist_items.size()) &&
              batch.jagged[1].length(r) == static_cast<int64_t>(row.hist_cats.size()) &&
              batch.labels[r] == static_cast<float>(row.label);
    for (size_t h = 0; ok && h < row.hist_cats.size(); ++h) {
      const int32_t id = batch.jagged[1].values[batch.jagged[1].offsets[r] + h];
      ok = category_id.emplace(row.hist_cats[h], id).first->second == id;
    }
    if (!ok) {
      ++bad;
      ADD_FAILURE() << "train row " << r << " does not match line " << r + 1 << " of events.csv";
    }
  }
  // Vocabulary ids (from 2; 1 is the rare values' id) are one per category.
  std::set<int32_t> ids;
  int64_t in_vocabulary = 0;
  for (const auto& [category, id] : category_id) {
    if (id >= 2) {
      ids.insert(id);
      ++in_vocabulary;
    }
  }
  EXPECT_EQ(static_cast<int64_t>(ids.size()), in_vocabulary) << "two categories share an id";
  EXPECT_GT(in_vocabulary, kCategories / 2);
}

TEST_F(SequenceGeneratorTest, DifferentSeedsGiveDifferentData) {
  Generate(1, "seed99", 99, 200);
  const std::string other = ReadFile(Dir("seed99") + "/events.csv");
  const std::string first = ReadFile(Dir("t1") + "/events.csv");
  const size_t body = first.find('\n') + 1;
  EXPECT_NE(other.substr(body, 2000), first.substr(body, 2000));
}

TEST_F(SequenceGeneratorTest, RegisteredAndBadOptionsAreConfigErrors) {
  GeneratorRegistry registry;
  RegisterBuiltinGenerators(registry);
  EXPECT_NE(registry.Create("sequences"), nullptr);
  auto expect_config_error = [](SequenceGenerator& generator, const std::string& mentions) {
    try {
      generator.Validate();
      ADD_FAILURE() << "no error mentioning " << mentions;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig);
      EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
  };
  SequenceGenerator zero_users;
  zero_users.options().users = 0;
  expect_config_error(zero_users, "users");
  SequenceGenerator few_items;
  few_items.options().items = 10;
  expect_config_error(few_items, "--categories");
  SequenceGenerator too_big;
  too_big.options().users = int64_t{1} << 30;
  too_big.options().events_per_user = 100;
  expect_config_error(too_big, "in memory");
}

}  // namespace
}  // namespace aiok::data
