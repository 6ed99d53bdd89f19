// A model trained on a prepared table (prepare: join, an sql expression, groupby_aggregate and
// an sql expression over a looked-up and a joined field) scores the raw test rows — which lack
// every looked-up and computed field — through `aiok predict`'s path and through the HTTP
// server exactly as the trainer scored the dataset's test split.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/core/metrics.h"
#include "aiok/data/dataset.h"
#include "aiok/etl/etl_runner.h"
#include "aiok/loader/data_loader.h"
#include "aiok/serving/bundle.h"
#include "aiok/serving/http_server.h"
#include "aiok/serving/predict_file.h"
#include "aiok/serving/predictor.h"
#include "aiok/train/trainer.h"

namespace aiok::serving {
namespace {
namespace fs = std::filesystem;

constexpr int kRows = 2800;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

double Draw(int64_t row, int stream) { return UnitDouble(HashTriple(11, row, stream)); }

// Events whose click rate depends on the item's category (only the side table has it), the
// user's mean price (only groupby_aggregate has it) and price per day (only the sql step).
void WriteData(const fs::path& dir) {
  std::string items = "item_id,cat_id,brand\n";
  for (int item = 1; item <= 55; ++item)  // 56..60 are unknown to the side table
    items += fmt::format("{},{},b{}\n", item, item % 5, item % 4);
  WriteFileAtomic((dir / "items.csv").string(), items);
  std::string events = "user_id,item_id,price,days,label\n";
  for (int64_t r = 0; r < kRows; ++r) {
    const int user = 1 + static_cast<int>(Draw(r, 1) * 80);
    const int item = 1 + static_cast<int>(Draw(r, 2) * 60);
    const double price = 1 + std::floor(Draw(r, 3) * 4900) / 100;
    const int days = static_cast<int>(Draw(r, 4) * 10);
    const double p = 0.15 + 0.5 * (item % 5 == 0) + 0.2 * (user % 3 == 0) +
                     0.1 * (price / std::max(days, 1) > 10);
    const bool missing_price = Draw(r, 5) < 0.1;
    events += fmt::format("{},{},{},{},{}\n", user, item,
                          missing_price ? "" : fmt::format("{:.2f}", price), days,
                          Draw(r, 6) < p ? 1 : 0);
  }
  WriteFileAtomic((dir / "events.csv").string(), events);
  WriteFileAtomic((dir / "pipeline.yaml").string(), R"yaml(prepare:
  - join: {table: items.csv, on: [item_id]}
  - sql: {output: price_per_day, expr: "price / greatest(days, 1)"
}
  - groupby_aggregate: {by: [user_id], aggs: {price: [mean], item_id: [count]}}
  - sql: {output: cat_mean, expr: "coalesce(user_id_price_mean, 0) * (cat_id + 1)"}
steps:
  - columns: [user_id, item_id, cat_id, brand]
    ops: [categorify: {freq_threshold: 1}]
  - columns: [price, days, price_per_day, user_id_price_mean, user_id_item_id_count, cat_mean]
    ops: [fill_missing: {}, log1p: {}]
)yaml");
}

class PrepareServingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() /
                         ("aiok_prepare_serving_" + std::to_string(getpid())));
    fs::create_directories(*root_);
    WriteData(*root_);
    static CancellationToken token;
    const RunContext ctx{7, 2, &token};
    etl::EtlRequest etl;
    etl.input = (*root_ / "events.csv").string();
    etl.pipeline_file = (*root_ / "pipeline.yaml").string();
    etl.out_dir = (*root_ / "ds").string();
    etl::RunEtl(etl, ctx);
    train::TrainOptions options;
    options.data_dir = (*root_ / "ds").string();
    options.out_dir = (*root_ / "model").string();
    options.model_options = {{"preset", "dlrm-tiny"}};
    options.precision = "fp32";
    options.max_steps = 20;
    loader::LoaderOptions loader;
    loader.batch_size = 128;
    train::Train(options, loader, train::OptimizerOptions(), ctx);
    WriteBundle(options.data_dir, options.out_dir, bundle_dir());
    expected_ = new std::vector<float>(TrainersTestPredictions());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete expected_;
  }
  static std::string bundle_dir() { return (*root_ / "bundle").string(); }

  // The trainer's view: the model's engine on the dataset's test split, as the trainer's
  // evaluation reads it.
  static std::vector<float> TrainersTestPredictions() {
    const Bundle bundle = OpenBundle(bundle_dir());
    const Predictor predictor(bundle, "fp32");
    loader::LoaderOptions options;
    options.shuffle = false;
    options.batch_size = 1000;
    loader::DataLoader loader((*root_ / "ds").string(), "test", options);
    std::vector<float> out;
    while (auto batch = loader.Next()) {
      const size_t first = out.size();
      out.resize(first + static_cast<size_t>(batch->rows));
      predictor.Predict(*batch, out.data() + first);
    }
    return out;
  }

  // The test split's input lines: no prepare step changes rows, so prepared row i is input
  // record i.
  static std::vector<std::string> TestLines() {
    const data::DatasetSchema schema = data::ReadDatasetSchema((*root_ / "ds").string());
    const data::SplitInfo& test = schema.split("test");
    const std::vector<std::string> lines = ReadLines((*root_ / "events.csv").string());
    return {lines.begin() + 1 + test.lines.begin, lines.begin() + 1 + test.lines.end};
  }

  static fs::path* root_;
  static std::vector<float>* expected_;
  CancellationToken token_;
  RunContext ctx_{1, 2, &token_};
};
fs::path* PrepareServingTest::root_ = nullptr;
std::vector<float>* PrepareServingTest::expected_ = nullptr;

TEST_F(PrepareServingTest, PredictOnRawRowsEqualsTheTrainersTestEvaluation) {
  // The raw rows without the label: user_id, item_id, price, days. Nothing the prepare
  // stage adds is in the file.
  std::string rows = "user_id,item_id,price,days\n";
  std::vector<uint8_t> labels;
  for (const std::string& line : TestLines()) {
    rows += line.substr(0, line.rfind(',')) + "\n";
    labels.push_back(line.substr(line.rfind(',') + 1) == "1" ? 1 : 0);
  }
  PredictOptions predict;
  predict.bundle_dir = bundle_dir();
  predict.input = (*root_ / "test_rows.csv").string();
  WriteFileAtomic(predict.input, rows);
  predict.out = (*root_ / "predictions.txt").string();
  predict.batch_size = 77;  // other batches than the loader's
  PredictFile(predict, ctx_);
  const std::vector<std::string> got = ReadLines(predict.out);
  ASSERT_EQ(got.size(), expected_->size());
  ASSERT_GT(got.size(), 100u);
  std::vector<float> scores;
  for (size_t i = 0; i < got.size(); ++i) {
    scores.push_back(std::stof(got[i]));
    ASSERT_NEAR(scores.back(), (*expected_)[i], 2e-6) << "test row " << i;
  }
  // And so the trainer's own test AUC, to the last digit.
  const nlohmann::json metrics =
      nlohmann::json::parse(ReadFile((*root_ / "model" / "metrics.json").string()));
  EXPECT_NEAR(BinaryAuc(scores.data(), labels.data(), scores.size()),
              metrics.at("test").at("auc").get<double>(), 1e-9);
}

TEST_F(PrepareServingTest, TheHttpServerScoresRequestRowsAsTheTrainerDid) {
  ServeOptions options;
  options.bundle_dir = bundle_dir();
  options.port = 0;
  options.max_wait_ms = 0;
  CancellationToken stop;
  const RunContext ctx{1, 2, &stop};
  std::promise<int> listening;
  std::thread server([&] {
    try {
      Serve(options, ctx, [&](int port) { listening.set_value(port); });
    } catch (...) {
      listening.set_exception(std::current_exception());
    }
  });
  // Stops the server however the test ends.
  struct Stop {
    CancellationToken& token;
    std::thread& thread;
    ~Stop() {
      token.Cancel();
      thread.join();
    }
  } stop_server{stop, server};
  const int port = listening.get_future().get();
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);

  // Rows as JSON objects of the request's fields only, in requests of 1 to 37 rows.
  const std::vector<std::string> lines = TestLines();
  std::vector<float> got;
  for (size_t begin = 0, size = 1; begin < lines.size(); begin += size, size = size % 37 + 1) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = begin; i < std::min(lines.size(), begin + size); ++i) {
      std::vector<std::string> fields;
      std::stringstream in(lines[i]);
      for (std::string field; std::getline(in, field, ',');)
        fields.push_back(field);
      nlohmann::json row = {{"user_id", std::stoll(fields[0])},
                            {"item_id", std::stoll(fields[1])},
                            {"days", std::stoll(fields[3])}};
      if (!fields[2].empty())
        row["price"] = std::stod(fields[2]);
      rows.push_back(row);
    }
    const auto answer =
        client.Post("/v1/predict", nlohmann::json{{"rows", rows}}.dump(), "application/json");
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status, 200) << answer->body;
    const nlohmann::json body = nlohmann::json::parse(answer->body);
    for (const auto& p : body.at("probabilities"))
      got.push_back(p.get<float>());
  }
  ASSERT_EQ(got.size(), expected_->size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], (*expected_)[i], 2e-6) << "test row " << i;

  // The metadata says what is looked up and computed; a request carrying a computed field is
  // told it is not an input.
  const auto metadata = client.Get("/v1/metadata");
  ASSERT_TRUE(metadata);
  const nlohmann::json input = nlohmann::json::parse(metadata->body).at("input");
  ASSERT_EQ(input.at("looked_up").size(), 2u);
  ASSERT_EQ(input.at("computed").size(), 2u);
  EXPECT_EQ(input.at("computed")[1].at("field"), "cat_mean");
  EXPECT_EQ(input.at("computed")[1].at("reads"), nlohmann::json({"cat_id", "user_id_price_mean"}));
  const auto refused =
      client.Post("/v1/predict", R"({"rows": [{"user_id": 1, "item_id": 2, "price_per_day": 3}]})",
                  "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("unknown field 'price_per_day'"), std::string::npos)
      << refused->body;
}

}  // namespace
}  // namespace aiok::serving
