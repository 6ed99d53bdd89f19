// Bundles and prediction on raw rows: round trip, damage, unseen values, file prediction.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/data/dataset.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/etl/categorical_operators.h"
#include "aiok/etl/table_etl.h"
#include "aiok/loader/data_loader.h"
#include "aiok/models/dlrm.h"
#include "aiok/serving/bundle.h"
#include "aiok/serving/predict_file.h"
#include "aiok/serving/predictor.h"
#include "aiok/serving/serving_pipeline.h"
#include "aiok/train/trainer.h"
#include "../common/small_dataset.h"

namespace aiok::serving {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

class ServingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("aiok_serving_" + std::to_string(getpid())));
    aiok::testing::MakeSmallDataset(*root_, 40000, 0.0005, 7);
    static CancellationToken token;
    const RunContext ctx{7, 2, &token};
    train::TrainOptions options;
    options.data_dir = (*root_ / "ds").string();
    options.out_dir = (*root_ / "model").string();
    options.model_options = {{"preset", "dlrm-tiny"}};
    options.precision = "fp32";
    options.max_steps = 60;
    loader::LoaderOptions loader;
    loader.batch_size = 256;
    train::Train(options, loader, train::OptimizerOptions(), ctx);
    WriteBundle(options.data_dir, options.out_dir, bundle_dir());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string bundle_dir() { return (*root_ / "bundle").string(); }
  static std::string raw_file() { return (*root_ / "raw" / "train.txt").string(); }

  // A copy of the bundle to damage.
  std::string CopyOfBundle(const std::string& name) const {
    const fs::path copy = *root_ / name;
    fs::remove_all(copy);
    fs::copy(bundle_dir(), copy);
    return copy.string();
  }

  static fs::path* root_;
  CancellationToken token_;
  RunContext ctx_{1, 2, &token_};
};
fs::path* ServingTest::root_ = nullptr;

TEST_F(ServingTest, PredictionsOnRawTestRowsEqualTheTrainersOwnEvaluation) {
  // The trainer's view: the saved model on the test split's shards.
  const data::DatasetSchema schema = data::ReadDatasetSchema((*root_ / "ds").string());
  const data::SplitInfo& test = schema.split("test");
  const Bundle bundle = OpenBundle(bundle_dir());
  models::Dlrm model(models::DlrmArchitecture::FromJson(bundle.model.at("architecture")));
  torch::load(model, (*root_ / "model" / "model.pt").string());
  model->eval();
  loader::LoaderOptions options;
  options.shuffle = false;
  options.batch_size = 4096;
  loader::DataLoader loader((*root_ / "ds").string(), "test", options);
  std::vector<float> expected;
  torch::NoGradGuard no_grad;
  while (auto batch = loader.Next()) {
    const auto dense = torch::from_blob(const_cast<float*>(batch->dense), {batch->rows, 13});
    const auto ids =
        torch::from_blob(const_cast<int32_t*>(batch->categorical), {batch->rows, 26}, torch::kInt32);
    const torch::Tensor p = torch::sigmoid(model->forward(dense, ids)).contiguous();
    expected.insert(expected.end(), p.data_ptr<float>(), p.data_ptr<float>() + batch->rows);
  }

  // The bundle's view: the raw test lines, through predict.
  const std::vector<std::string> lines = ReadLines(raw_file());
  std::string test_rows;
  for (int64_t i = test.lines.begin; i < test.lines.end; ++i)
    test_rows += lines[static_cast<size_t>(i)] + "\n";
  const std::string input = (*root_ / "test_rows.tsv").string();
  WriteFileAtomic(input, test_rows);
  PredictOptions predict;
  predict.bundle_dir = bundle_dir();
  predict.input = input;
  predict.out = (*root_ / "test_predictions.txt").string();
  predict.batch_size = 1000;  // other chunks than the loader's
  const PredictSummary summary = PredictFile(predict, ctx_);
  EXPECT_EQ(summary.rows, test.rows);
  const std::vector<std::string> got = ReadLines(predict.out);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(std::stof(got[i]), expected[i], 2e-6) << "row " << i;
}

TEST_F(ServingTest, UnseenCategoriesAndMissingFieldsGetTheReservedIds) {
  const Bundle bundle = OpenBundle(bundle_dir());
  const ServingPipeline pipeline(bundle);
  const Predictor predictor(bundle, "fp32");
  const std::string text = std::string(12, '\t') + "\t" +  // 13 empty dense fields
                           "ffffffff" + std::string(25, '\t');  // C1 unseen, rest empty
  const nlohmann::json request = {text, {{"C1", "ffffffff"}}};
  const data::FeatureBatch batch =
      pipeline.Transform(pipeline.ParseJsonRows(request), pipeline.input_schema());
  ASSERT_EQ(batch.rows, 2);
  for (int64_t r = 0; r < 2; ++r) {
    for (int d = 0; d < 13; ++d)
      EXPECT_EQ(batch.dense[r * 13 + d], 0.0f);  // fill_missing(0) -> clip -> log1p(0)
    EXPECT_EQ(batch.categorical[r * 26], etl::kRareId);
    for (int c = 1; c < 26; ++c)
      EXPECT_EQ(batch.categorical[r * 26 + c], etl::kMissingId);
  }
  float p[2] = {0, 0};
  predictor.Predict(batch, p);
  float again[2] = {0, 0};
  predictor.Predict(batch, again);
  EXPECT_EQ(again[0], p[0]);
  EXPECT_GT(p[0], 0.0f);
  EXPECT_LT(p[0], 1.0f);
  EXPECT_EQ(p[0], p[1]);  // the text row and the named fields are the same row
}

TEST_F(ServingTest, DamagedOrForeignBundlesAreRefusedNamingTheFile) {
  auto expect_refused = [&](const std::string& dir, const std::string& mentions) {
    try {
      OpenBundle(dir);
      ADD_FAILURE() << "opened " << dir;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
  };
  {
    const std::string dir = CopyOfBundle("flipped");
    std::fstream f(dir + "/model.pt", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x5a');
    f.close();
    expect_refused(dir, "model.pt is damaged");
  }
  {
    const std::string dir = CopyOfBundle("truncated");
    fs::resize_file(dir + "/pipeline.json", 100);
    expect_refused(dir, "pipeline.json is damaged");
  }
  {
    const std::string dir = CopyOfBundle("missing");
    fs::remove(dir + "/schema.json");
    expect_refused(dir, "schema.json is missing");
  }
  {
    const std::string dir = CopyOfBundle("future");
    auto manifest = nlohmann::json::parse(ReadFile(dir + "/bundle.json"));
    manifest["format_version"] = 99;
    WriteFileAtomic(dir + "/bundle.json", manifest.dump());
    expect_refused(dir, "version 99 is not supported");
  }
  expect_refused((*root_ / "ds").string(), "no bundle.json");
  // And an intact copy opens.
  EXPECT_NO_THROW(OpenBundle(CopyOfBundle("intact")));
}

TEST_F(ServingTest, BundleRefusesAModelTrainedOnAnotherDataset) {
  aiok::testing::MakeSmallDataset(*root_ / "other", 5000, 0.002, 3);
  EXPECT_THROW(WriteBundle((*root_ / "other" / "ds").string(), (*root_ / "model").string(),
                           (*root_ / "b2").string()),
               Error);
  EXPECT_FALSE(fs::exists(*root_ / "b2"));
}

TEST_F(ServingTest, PredictFileKeepsLinesAlignedAndReportsBadOnes) {
  // Two unlabeled rows around a bad one.
  const std::vector<std::string> lines = ReadLines(raw_file());
  auto without_label = [](const std::string& line) { return line.substr(line.find('\t') + 1); };
  const std::string good1 = without_label(lines[0]);
  const std::string good2 = without_label(lines[1]);
  std::string bad = good1;
  bad.replace(bad.rfind('\t') + 1, std::string::npos, "zz");  // C26 not hex
  const std::string input = (*root_ / "mixed.tsv").string();
  WriteFileAtomic(input, good1 + "\n" + bad + "\n" + good2 + "\n");

  PredictOptions options;
  options.bundle_dir = bundle_dir();
  options.input = input;
  options.out = (*root_ / "mixed_fail.txt").string();
  try {
    PredictFile(options, ctx_);
    ADD_FAILURE() << "a bad line under --on-error fail must stop";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mixed.tsv:2:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("C26"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(options.out));

  options.on_error = data::OnError::kSkip;
  options.out = (*root_ / "mixed_skip.txt").string();
  const PredictSummary summary = PredictFile(options, ctx_);
  EXPECT_EQ(summary.rows, 2);
  EXPECT_EQ(summary.rejected, 1);
  const std::vector<std::string> got = ReadLines(options.out);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1], "nan");
  EXPECT_GT(std::stof(got[0]), 0.0f);
  EXPECT_GT(std::stof(got[2]), 0.0f);
  const std::vector<std::string> rejects = ReadLines(options.out + ".rejects.tsv");
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_EQ(rejects[1].substr(0, 2), "2\t");

  // Rows with the label score the same as without it.
  const std::string labeled = (*root_ / "labeled.tsv").string();
  WriteFileAtomic(labeled, lines[0] + "\n" + lines[1] + "\n");
  options.input = labeled;
  options.out = (*root_ / "labeled.txt").string();
  PredictFile(options, ctx_);
  const std::vector<std::string> with_label = ReadLines(options.out);
  EXPECT_EQ(with_label[0], got[0]);
  EXPECT_EQ(with_label[1], got[2]);
}

TEST_F(ServingTest, ParquetRowsWithoutTheLabelScoreLikeTheTsvRows) {
  // The first 500 rows of the raw file, as TSV and as Parquet without the label column.
  const std::vector<std::string> lines = ReadLines(raw_file());
  std::string head;
  for (size_t i = 0; i < 500; ++i)
    head += lines[i] + "\n";
  const std::string tsv = (*root_ / "head.tsv").string();
  WriteFileAtomic(tsv, head);
  std::string columns = "'label': 'INTEGER'";
  std::string select = "SELECT ";
  for (int d = 1; d <= 13; ++d) {
    columns += fmt::format(", 'I{}': 'BIGINT'", d);
    select += fmt::format("{}I{}", d > 1 ? ", " : "", d);
  }
  for (int c = 1; c <= 26; ++c) {
    columns += fmt::format(", 'C{}': 'VARCHAR'", c);
    select += fmt::format(", C{}", c);
  }
  const std::string parquet = (*root_ / "head.parquet").string();
  data::DuckDb db(2);
  db.Query("COPY (" + select + " FROM read_csv(" + data::SqlString(tsv) +
               ", delim='\\t', header=false, columns={" + columns + "})) TO " +
               data::SqlString(parquet) + " (FORMAT PARQUET)",
           "test");

  PredictOptions options;
  options.bundle_dir = bundle_dir();
  options.input = tsv;
  options.out = (*root_ / "head_tsv.txt").string();
  PredictFile(options, ctx_);
  options.input = parquet;
  options.out = (*root_ / "head_parquet.txt").string();
  EXPECT_EQ(PredictFile(options, ctx_).rows, 500);
  EXPECT_EQ(ReadLines((*root_ / "head_parquet.txt").string()),
            ReadLines((*root_ / "head_tsv.txt").string()));
}

}  // namespace
}  // namespace aiok::serving
