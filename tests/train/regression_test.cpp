// A regression task end to end: a small dataset with real labels, a dense block, a categorical
// field and a list field, written with SplitWriter; the trainer takes the loss (squared error)
// and the metrics (RMSE, MAE) from the task.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/data/dataset.h"
#include "aiok/train/trainer.h"

namespace aiok::train {
namespace {
namespace fs = std::filesystem;

// y = 2 x0 - x1 + effect(id) + sum of effect(tag) over the row's tags, + a little noise. The
// standard deviation of y is about 2; a model that learns the effects gets far below it.
double Effect(uint64_t stream, int64_t id) {
  return 2.0 * ApproxNormal(HashPair(stream, static_cast<uint64_t>(id))) / 1.7;
}

void MakeRegressionDataset(const fs::path& dir) {
  fs::create_directories(dir);
  data::DatasetSchema schema;
  schema.features.task = data::Task::kRegression;
  schema.features.dense = {"x0", "x1"};
  schema.features.categorical = {{"id", 20}};
  schema.features.jagged = {{"tags", data::JaggedFeature::Kind::kMultiCategorical, 12, 3}};
  const std::vector<int64_t> rows = {6000, 1000, 1000};
  int64_t row = 0;
  for (size_t s = 0; s < rows.size(); ++s) {
    schema.splits.push_back(
        data::SplitInfo{data::SplitNames()[s], {row, row + rows[s]}, 0, {}, ""});
    data::SplitWriter writer(dir.string(), &schema.splits.back(), schema.features, 5000);
    data::FeatureBatch batch = data::AllocateFeatureBatch(schema.features, rows[s], true);
    data::FeatureBatchStorage& st = *batch.storage;
    for (int64_t i = 0; i < rows[s]; ++i, ++row) {
      const uint64_t h = HashPair(7, static_cast<uint64_t>(row));
      const double x0 = ApproxNormal(HashPair(h, 1)) * 0.5;
      const double x1 = ApproxNormal(HashPair(h, 2)) * 0.5;
      const auto id = static_cast<int32_t>(HashPair(h, 3) % 20);
      double y = 2 * x0 - x1 + Effect(11, id) + 0.05 * ApproxNormal(HashPair(h, 4));
      const int64_t tags = static_cast<int64_t>(HashPair(h, 5) % 4);
      for (int64_t k = 0; k < tags; ++k) {
        const auto tag = static_cast<int32_t>(HashPair(h, 6 + k) % 12);
        st.values[0].push_back(tag);
        y += 0.5 * Effect(13, tag);
      }
      st.offsets[0][i + 1] = static_cast<int64_t>(st.values[0].size());
      st.dense[i * 2] = static_cast<float>(x0);
      st.dense[i * 2 + 1] = static_cast<float>(x1);
      st.categorical[i] = id;
      st.labels[i] = static_cast<float>(y);
    }
    batch.ViewStorage();
    writer.Append(batch, 0, rows[s]);
    writer.Close();
  }
  schema.source = {{"path", "synthetic regression"}};
  WriteFileAtomic((dir / "schema.json").string(), schema.ToJson().dump());
}

TEST(RegressionTask, TrainsWithSquaredErrorAndReportsRmseAndMae) {
  const fs::path root = fs::temp_directory_path() / ("aiok_regression_" + std::to_string(getpid()));
  MakeRegressionDataset(root / "ds");
  CancellationToken token;
  const RunContext ctx{3, 2, &token};
  TrainOptions options;
  options.data_dir = (root / "ds").string();
  options.out_dir = (root / "model").string();
  options.model_options = {{"preset", "dlrm-tiny"}, {"pooling", "sum"}};
  options.epochs = 3;
  options.warmup_steps = 10;
  loader::LoaderOptions loader;
  loader.batch_size = 100;
  OptimizerOptions optimizer;
  optimizer.name = "adam";
  optimizer.lr = 0.01;
  optimizer.embedding_update = "adagrad";
  optimizer.embedding_lr = 0.1;
  const TrainResult r = Train(options, loader, optimizer, ctx);
  EXPECT_EQ(r.task, data::Task::kRegression);
  // The labels' spread is about 2 (RMSE of always predicting the mean); the noise is 0.05.
  EXPECT_LT(r.test.rmse, 0.3) << "the model should learn most of the effects (measured 0.083)";
  EXPECT_GT(r.test.rmse, 0.0);
  EXPECT_LE(r.test.mae, r.test.rmse);
  const auto metrics = nlohmann::json::parse(ReadFile(options.out_dir + "/metrics.json"));
  EXPECT_EQ(metrics.at("task"), "regression");
  EXPECT_TRUE(metrics.at("test").contains("rmse"));
  EXPECT_TRUE(metrics.at("test").contains("mae"));
  EXPECT_FALSE(metrics.at("test").contains("auc"));
  EXPECT_TRUE(metrics.at("curve").at(0).contains("valid_rmse"));
  EXPECT_EQ(metrics.at("architecture").at("task"), "regression");
  // --target-auc means nothing without an AUC.
  options.target_auc = 0.7;
  options.out_dir = (root / "target").string();
  EXPECT_THROW(Train(options, loader, optimizer, ctx), Error);
  fs::remove_all(root);
}

}  // namespace
}  // namespace aiok::train
