#include "aiok/data/criteo_generator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/data/criteo_layout.h"
#include "aiok/data/splits.h"

namespace aiok::data {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kRows = 60000;

// A generated file read back field by field, checking the format of every field on the way.
struct ParsedFile {
  std::vector<uint8_t> labels;
  std::vector<std::array<bool, kCriteoFields>> empty;
  std::vector<std::set<std::string>> distinct =
      std::vector<std::set<std::string>>(kCriteoCategorical);
};

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    const size_t tab = line.find('\t', start);
    fields.push_back(
        line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos)
      return fields;
    start = tab + 1;
  }
}

bool IsDecimal(const std::string& s, bool allow_negative) {
  size_t i = 0;
  if (allow_negative && !s.empty() && s[0] == '-')
    i = 1;
  if (i == s.size())
    return false;
  if (s.size() - i > 1 && s[i] == '0')
    return false;  // no leading zeros
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
  }
  return true;
}

bool IsHex8(const std::string& s) {
  return s.size() == 8 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

ParsedFile ParseAndCheckFormat(const std::string& path) {
  const std::string text = ReadFile(path);
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "last line must be complete";
  EXPECT_EQ(text.find('\r'), std::string::npos) << "no CR characters";
  ParsedFile parsed;
  std::istringstream in(text);
  std::string line;
  int64_t line_number = 0;
  int bad_lines_reported = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const auto fields = SplitTabs(line);
    if (fields.size() != static_cast<size_t>(kCriteoFields)) {
      ADD_FAILURE() << "line " << line_number << ": " << fields.size() << " fields";
      continue;
    }
    std::array<bool, kCriteoFields> empty{};
    bool ok = fields[0] == "0" || fields[0] == "1";
    for (int f = 1; f < kCriteoFields; ++f) {
      empty[f] = fields[f].empty();
      if (empty[f])
        continue;
      if (f <= kCriteoDense) {
        ok = ok && IsDecimal(fields[f], /*allow_negative=*/f == 2);  // only I2 goes negative
      } else {
        ok = ok && IsHex8(fields[f]);
        parsed.distinct[f - 1 - kCriteoDense].insert(fields[f]);
      }
    }
    if (!ok && bad_lines_reported++ < 5)
      ADD_FAILURE() << "line " << line_number << ": " << line;
    parsed.labels.push_back(fields[0] == "1" ? 1 : 0);
    parsed.empty.push_back(empty);
  }
  return parsed;
}

class CriteoGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("aiok_datagen_" + std::to_string(getpid())));
    Generate(1, "t1");
    Generate(3, "t3");
    parsed_ = new ParsedFile(ParseAndCheckFormat(Dir("t1") + "/train.txt"));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete parsed_;
  }
  static std::string Dir(const std::string& name) { return (*root_ / name).string(); }
  static GeneratorSummary Generate(int threads, const std::string& name, double pos_rate = 0.25,
                                   double card_scale = 1.0, int64_t rows = kRows) {
    static CancellationToken token;
    CriteoGenerator generator;
    generator.options().rows = rows;
    generator.options().pos_rate = pos_rate;
    generator.options().card_scale = card_scale;
    RunContext ctx;
    ctx.seed = 1234;
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

  static fs::path* root_;
  static ParsedFile* parsed_;
};
fs::path* CriteoGeneratorTest::root_ = nullptr;
ParsedFile* CriteoGeneratorTest::parsed_ = nullptr;

TEST_F(CriteoGeneratorTest, EveryLineHasTheKaggleFormat) {
  EXPECT_EQ(parsed_->labels.size(), static_cast<size_t>(kRows));
}

TEST_F(CriteoGeneratorTest, OutputIsIdenticalWhateverTheThreadCount) {
  for (const char* file : {"train.txt", "truth.f32", "datagen.json"}) {
    EXPECT_TRUE(ReadFile(Dir("t1") + "/" + file) == ReadFile(Dir("t3") + "/" + file)) << file;
  }
}

TEST_F(CriteoGeneratorTest, NoTemporaryFilesRemain) {
  for (const auto& entry : fs::directory_iterator(Dir("t1"))) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST_F(CriteoGeneratorTest, MissingRatesFollowKaggle) {
  for (int f = 1; f < kCriteoFields; ++f) {
    double empty = 0;
    for (const auto& row : parsed_->empty)
      empty += row[f];
    const double rate = empty / kRows;
    const double expected = f <= kCriteoDense ? kCriteoDenseMissing[f - 1]
                                              : kCriteoCategoricalMissing[f - 1 - kCriteoDense];
    EXPECT_NEAR(rate, expected, 0.01) << "field " << f;
  }
}

TEST_F(CriteoGeneratorTest, PositiveRateIsAsRequested) {
  EXPECT_NEAR(PositiveRate(parsed_->labels.data(), kRows), 0.25, 0.01);
  Generate(2, "p10", 0.10, 1.0, 30000);
  const auto labels = ParseAndCheckFormat(Dir("p10") + "/train.txt").labels;
  EXPECT_NEAR(PositiveRate(labels.data(), labels.size()), 0.10, 0.01);
}

TEST_F(CriteoGeneratorTest, CardinalitiesFollowKaggleTimesScale) {
  const auto manifest = Manifest("t1");
  for (int c = 0; c < kCriteoCategorical; ++c) {
    EXPECT_EQ(manifest["cardinalities"][c].get<int64_t>(), kCriteoCardinalities[c]);
    EXPECT_LE(static_cast<int64_t>(parsed_->distinct[c].size()), kCriteoCardinalities[c]);
    // Small columns show every value in 60k rows; large ones many distinct values.
    if (kCriteoCardinalities[c] <= 30) {
      EXPECT_EQ(static_cast<int64_t>(parsed_->distinct[c].size()), kCriteoCardinalities[c]) << c;
    }
  }
  EXPECT_GT(parsed_->distinct[2].size(), 10000u) << "C3 has 10M values; a 60k sample shows many";
  Generate(2, "small", 0.25, 0.001, 20000);
  const auto small = ParseAndCheckFormat(Dir("small") + "/train.txt");
  EXPECT_EQ(Manifest("small")["cardinalities"][2].get<int64_t>(), 10131);  // C3 * 0.001
  EXPECT_LE(small.distinct[2].size(), 10131u);
  EXPECT_EQ(small.distinct[8].size(), 2u);  // C9 (3 values) is never scaled below 2
}

TEST_F(CriteoGeneratorTest, BayesMetricsInManifestMatchTruthFile) {
  const auto manifest = Manifest("t1");
  const std::vector<float> truth = Truth("t1");
  ASSERT_EQ(truth.size(), static_cast<size_t>(kRows));
  const auto& labels = parsed_->labels;
  EXPECT_DOUBLE_EQ(manifest["bayes"]["all"]["bayes_auc"].get<double>(),
                   BinaryAuc(truth.data(), labels.data(), kRows));
  EXPECT_DOUBLE_EQ(manifest["bayes"]["all"]["bayes_logloss"].get<double>(),
                   BinaryLogLoss(truth.data(), labels.data(), kRows));
  const SplitRanges splits = KaggleSplits(kRows);
  const auto& test = manifest["bayes"]["test"];
  EXPECT_EQ(test["begin"].get<int64_t>(), splits.test.begin);
  EXPECT_EQ(test["end"].get<int64_t>(), splits.test.end);
  EXPECT_DOUBLE_EQ(test["bayes_auc"].get<double>(),
                   BinaryAuc(truth.data() + splits.test.begin, labels.data() + splits.test.begin,
                             static_cast<size_t>(splits.test.size())));
  // The hidden model is learnable but far from trivial.
  const double auc = manifest["bayes"]["all"]["bayes_auc"].get<double>();
  EXPECT_GT(auc, 0.75);
  EXPECT_LT(auc, 0.90);
}

TEST_F(CriteoGeneratorTest, LabelsAreCalibratedToTruth) {
  // Within each decile of the true probability, the share of positives matches the mean truth:
  // the labels really are draws from truth.f32.
  const std::vector<float> truth = Truth("t1");
  std::vector<size_t> order(truth.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return truth[a] < truth[b]; });
  for (int bin = 0; bin < 10; ++bin) {
    double mean_truth = 0;
    double positives = 0;
    const size_t begin = order.size() * bin / 10;
    const size_t end = order.size() * (bin + 1) / 10;
    for (size_t k = begin; k < end; ++k) {
      mean_truth += truth[order[k]];
      positives += parsed_->labels[order[k]];
    }
    const double n = static_cast<double>(end - begin);
    EXPECT_NEAR(positives / n, mean_truth / n, 4 * std::sqrt(0.25 / n) + 0.002) << "decile " << bin;
  }
}

TEST_F(CriteoGeneratorTest, DifferentSeedsGiveDifferentData) {
  static CancellationToken token;
  CriteoGenerator generator;
  generator.options().rows = 1000;
  RunContext ctx{99, 1, &token};
  generator.Generate(ctx, Dir("seed99"));
  const std::string other = ReadFile(Dir("seed99") + "/train.txt");
  EXPECT_NE(other.substr(0, 2000), ReadFile(Dir("t1") + "/train.txt").substr(0, 2000));
}

TEST_F(CriteoGeneratorTest, BadOptionsAreConfigErrors) {
  CriteoGenerator generator;
  generator.options().pos_rate = 1.5;
  try {
    generator.Validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("pos-rate"), std::string::npos);
  }
}

}  // namespace
}  // namespace aiok::data
