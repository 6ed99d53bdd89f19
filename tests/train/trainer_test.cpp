#include "aiok/train/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/data/dataset.h"
#include "aiok/etl/table_etl.h"
#include "aiok/models/dlrm.h"
#include "../common/small_dataset.h"

namespace aiok::train {
namespace {
namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("aiok_train_" + std::to_string(getpid())));
    aiok::testing::MakeSmallDataset(*root_, 60000, 0.0005, 11);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override { ctx_ = RunContext{5, 2, &token_}; }

  TrainOptions Options(const std::string& out) const {
    TrainOptions o;
    o.data_dir = (*root_ / "ds").string();
    o.out_dir = (*root_ / out).string();
    o.model_options = {{"preset", "dlrm-tiny"}};
    return o;
  }
  static loader::LoaderOptions Loader() {
    loader::LoaderOptions l;
    l.batch_size = 256;
    l.shuffle_window = 8192;
    return l;
  }
  static OptimizerOptions Adagrad() {
    OptimizerOptions o;
    o.name = "adagrad";
    o.lr = 0.05;
    o.embedding_lr = 0.1;
    return o;
  }
  // Every parameter and buffer of a saved model.
  static std::vector<torch::Tensor> SavedTensors(const std::string& path, const TrainOptions& o) {
    const data::DatasetSchema schema = data::ReadDatasetSchema(o.data_dir);
    std::unique_ptr<models::Model> model =
        models::BuiltinModels().Create(o.model, schema.features, o.model_options);
    models::LoadWeights(*model, path);
    std::vector<torch::Tensor> tensors;
    for (const auto& p : model->module()->parameters())
      tensors.push_back(p.clone());
    for (const auto& b : model->module()->buffers())
      tensors.push_back(b.clone());
    return tensors;
  }

  static fs::path* root_;
  CancellationToken token_;
  RunContext ctx_;
};
fs::path* TrainerTest::root_ = nullptr;

TEST_F(TrainerTest, OneEpochOnEasyDataLearnsAndWritesMetrics) {
  const TrainOptions o = Options("easy");
  const TrainResult r = Train(o, Loader(), Adagrad(), ctx_);
  EXPECT_EQ(r.task, data::Task::kBinary);
  // 51k training rows, one epoch of a tiny DLRM: well above chance, below the Bayes bound.
  EXPECT_GT(r.test.auc, 0.78);  // measured 0.812 (Bayes-optimal 0.8435)
  ASSERT_GT(r.test.bayes_auc, 0.0);
  EXPECT_LT(r.test.auc, r.test.bayes_auc + 0.01);
  EXPECT_EQ(r.steps, (51428 + 255) / 256);
  const auto metrics = nlohmann::json::parse(ReadFile(o.out_dir + "/metrics.json"));
  for (const char* key : {"task", "model", "architecture", "train", "valid", "test", "config",
                          "threads", "precision", "curve"}) {
    EXPECT_TRUE(metrics.contains(key)) << key;
  }
  EXPECT_GT(metrics["train"]["samples_per_second"].get<double>(), 0.0);
  EXPECT_EQ(metrics["test"]["bayes_auc"].get<double>(), r.test.bayes_auc);
  EXPECT_EQ(metrics["task"], "binary");
  EXPECT_EQ(metrics["config"]["preset"], "dlrm-tiny") << "the model's options are in the config";
  for (const char* key : {"auc", "logloss", "accuracy"})
    EXPECT_TRUE(metrics["test"].contains(key)) << key;
  EXPECT_TRUE(fs::exists(o.out_dir + "/model.pt"));
}

TEST_F(TrainerTest, ResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne) {
  TrainOptions whole = Options("whole");
  whole.epochs = 2;
  whole.max_steps = 260;  // into the second epoch (201 steps each)
  Train(whole, Loader(), Adagrad(), ctx_);

  TrainOptions first = Options("resumed");
  first.epochs = 2;
  first.max_steps = 150;  // stop mid-epoch
  Train(first, Loader(), Adagrad(), ctx_);
  TrainOptions rest = first;
  rest.max_steps = 260;
  rest.resume = true;
  const TrainResult r = Train(rest, Loader(), Adagrad(), ctx_);
  EXPECT_EQ(r.steps, 260);
  EXPECT_EQ(r.steps_this_run, 110) << "the second call must continue, not start over";
  const auto a = SavedTensors(whole.out_dir + "/model.pt", whole);
  const auto b = SavedTensors(rest.out_dir + "/model.pt", rest);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  // Resuming with another seed would continue in another order: refused.
  RunContext other = ctx_;
  other.seed = 6;
  EXPECT_THROW(Train(rest, Loader(), Adagrad(), other), Error);
}

TEST_F(TrainerTest, ResumeIsRefusedWhenTheRunWouldNotContinueTheSameWay) {
  TrainOptions first = Options("refused");
  first.max_steps = 30;
  Train(first, Loader(), Adagrad(), ctx_);
  TrainOptions rest = first;
  rest.max_steps = 60;
  rest.resume = true;
  auto message_of = [&](const TrainOptions& o, const loader::LoaderOptions& l,
                        const OptimizerOptions& opt) {
    try {
      Train(o, l, opt, ctx_);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig);
      return std::string(e.what());
    }
    return std::string("(resumed)");
  };
  // Another batch size: named, with both values.
  loader::LoaderOptions bigger = Loader();
  bigger.batch_size = 512;
  std::string message = message_of(rest, bigger, Adagrad());
  EXPECT_NE(message.find("cannot resume"), std::string::npos) << message;
  EXPECT_NE(message.find("batch-size: 256 in the checkpoint, 512 now"), std::string::npos)
      << message;
  // Another architecture or learning rate.
  TrainOptions wider = rest;
  wider.model_options["emb-dim"] = 16;
  message = message_of(wider, Loader(), Adagrad());
  EXPECT_NE(message.find("architecture"), std::string::npos) << message;
  OptimizerOptions faster = Adagrad();
  faster.lr = 0.5;
  message = message_of(rest, Loader(), faster);
  EXPECT_NE(message.find("lr: 0.05 in the checkpoint, 0.5 now"), std::string::npos) << message;
  // Another dataset in the same place: its schema.json differs.
  const fs::path other = *root_ / "other_ds";
  fs::copy(*root_ / "ds", other, fs::copy_options::recursive);
  auto schema = nlohmann::json::parse(ReadFile((other / "schema.json").string()));
  schema["source"]["path"] = "elsewhere.txt";
  WriteFileAtomic((other / "schema.json").string(), schema.dump());
  TrainOptions moved = rest;
  moved.data_dir = other.string();
  message = message_of(moved, Loader(), Adagrad());
  EXPECT_NE(message.find("dataset"), std::string::npos) << message;
  EXPECT_EQ(message.find("batch-size"), std::string::npos) << "only what differs: " << message;
  // The same settings resume.
  EXPECT_EQ(Train(rest, Loader(), Adagrad(), ctx_).steps_this_run, 30);
}

TEST_F(TrainerTest, Bf16TrainsAsWellAsFp32) {
  TrainOptions fp32 = Options("fp32");
  fp32.precision = "fp32";
  TrainOptions bf16 = Options("bf16");
  bf16.precision = "bf16";
  const TrainResult a = Train(fp32, Loader(), Adagrad(), ctx_);
  const TrainResult b = Train(bf16, Loader(), Adagrad(), ctx_);
  EXPECT_GT(b.test.auc, 0.78);
  EXPECT_NEAR(b.test.auc, a.test.auc, 0.01);
  const auto metrics = nlohmann::json::parse(ReadFile(bf16.out_dir + "/metrics.json"));
  EXPECT_EQ(metrics["precision"], "bf16");
  EXPECT_TRUE(metrics["cpu_native_bf16"].is_boolean());
}

TEST_F(TrainerTest, TargetAucStopsEarlyAndReportsTheTime) {
  TrainOptions o = Options("target");
  o.epochs = 3;
  o.eval_every = 20;
  o.target_auc = 0.6;
  const TrainResult r = Train(o, Loader(), Adagrad(), ctx_);
  EXPECT_GE(r.seconds_to_target, 0.0);
  EXPECT_LT(r.steps, 3 * 201);
  EXPECT_EQ(r.steps % 20, 0);
}

TEST_F(TrainerTest, KeepsTheBestValidWeightsAndStopsWhenPatienceRunsOut) {
  // Several epochs at high embedding rates overfit the small tables after the first.
  TrainOptions o = Options("overfit");
  o.epochs = 5;
  o.decay = "none";
  o.patience = 2;
  OptimizerOptions fast_embeddings = Adagrad();
  fast_embeddings.embedding_lr = 0.5;
  const TrainResult r = Train(o, Loader(), fast_embeddings, ctx_);
  const auto metrics = nlohmann::json::parse(ReadFile(o.out_dir + "/metrics.json"));
  const auto& curve = metrics.at("curve");
  ASSERT_GE(curve.size(), 2u);
  double best = 0.0;
  int64_t best_step = -1;
  for (const auto& point : curve) {
    if (point.at("valid_auc").get<double>() > best) {
      best = point.at("valid_auc");
      best_step = point.at("step");
    }
  }
  // The final weights are the best evaluated ones, whatever came after them.
  EXPECT_EQ(r.best_step, best_step);
  EXPECT_DOUBLE_EQ(r.valid.auc, best);
  EXPECT_EQ(r.restored_best, best_step != r.steps);
  ASSERT_TRUE(r.restored_best) << "this setup is meant to overfit; curve: " << curve.dump();
  EXPECT_LT(curve.back().at("valid_auc").get<double>(), best);
  // Two evaluations without improvement stop the run before its 5 epochs.
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(static_cast<int64_t>(curve.size()), best_step / 201 + 2);  // epoch-end evaluations
  EXPECT_LT(r.steps, 5 * 201);

  // --no-keep-best ends with the last weights.
  o.out_dir = (*root_ / "overfit_last").string();
  o.keep_best = false;
  o.patience = 0;
  o.epochs = 3;
  const TrainResult last = Train(o, Loader(), fast_embeddings, ctx_);
  EXPECT_FALSE(last.restored_best);
  EXPECT_EQ(last.steps, 3 * 201);
}

}  // namespace
}  // namespace aiok::train
