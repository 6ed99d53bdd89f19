#include "aiok/models/dlrm_inference.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

#include "aiok/models/dlrm.h"
#include "aiok/models/precision.h"

namespace aiok::models {
namespace {

// The tensors' rows as a FeatureBatch view (no lists).
data::FeatureBatch View(const torch::Tensor& dense, const torch::Tensor& ids) {
  data::FeatureBatch batch;
  batch.rows = ids.size(0);
  batch.dense = dense.data_ptr<float>();
  batch.categorical = ids.data_ptr<int32_t>();
  return batch;
}

// The engine against the model's own forward (torch), on the same random rows.
void Compare(Interaction interaction, const std::string& preset, int64_t rows, bool bf16) {
  torch::manual_seed(rows + static_cast<int>(interaction));
  DlrmArchitecture options;
  options.table_sizes = {7, 300, 50, 1000, 3};
  options.interaction = interaction;
  ApplyDlrmPreset(preset, &options);
  Dlrm model(options);
  model->eval();
  // Trained-looking weights: embeddings larger than their initial +-1/sqrt(rows).
  {
    torch::NoGradGuard no_grad;
    model->embedding()->weight.normal_(0.0, 0.3);
  }
  const torch::Tensor dense = torch::rand({rows, 13}) * 3;
  std::vector<torch::Tensor> columns;
  for (int64_t size : options.table_sizes)
    columns.push_back(torch::randint(0, size, {rows, 1}, torch::kInt32));
  const torch::Tensor ids = torch::cat(columns, 1).contiguous();
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    Bf16Autocast autocast(bf16);
    expected = torch::sigmoid(model->forward(dense, ids).to(torch::kFloat32));
  }
  const DlrmInference inference(*model, bf16);
  std::vector<float> got(static_cast<size_t>(rows));
  inference.Predict(View(dense, ids), got.data());
  const torch::Tensor got_tensor = torch::from_blob(got.data(), {rows});
  // fp32: the same arithmetic in another order. bf16: both round to bf16, at other places.
  const double tolerance = bf16 ? 0.02 : 2e-6;
  EXPECT_LT((got_tensor - expected).abs().max().item<double>(), tolerance)
      << preset << " rows " << rows << (bf16 ? " bf16" : " fp32");
}

TEST(DlrmInference, MatchesTheModelInFp32ForEveryInteraction) {
  for (Interaction interaction : {Interaction::kDot, Interaction::kDotWithSelf, Interaction::kCat})
    Compare(interaction, "dlrm-small", 37, false);
}

TEST(DlrmInference, MatchesTheModelForAnyBatchSize) {
  // One row, padded sizes, and more rows than one chunk (4096).
  for (int64_t rows : {1, 9, 300, 5000})
    Compare(Interaction::kDot, "dlrm-kaggle", rows, false);
  Compare(Interaction::kDot, "dlrm-tiny", 65, false);  // embedding width 8
}

TEST(DlrmInference, Bf16StaysCloseToTheModelUnderAutocast) {
  Compare(Interaction::kDot, "dlrm-kaggle", 700, true);
  Compare(Interaction::kCat, "dlrm-small", 33, true);
}

TEST(DlrmInference, ConcurrentCallsGiveTheSameResultsAsOneAtATime) {
  // Regression: oneDNN's default scratchpad is shared by all primitives, so two threads
  // scoring at once (as aiok predict does) corrupted each other's GEMMs.
  torch::manual_seed(5);
  DlrmArchitecture options;
  options.table_sizes = {100, 2000, 30};
  ApplyDlrmPreset("dlrm-kaggle", &options);
  Dlrm model(options);
  const DlrmInference inference(*model, false);
  constexpr int kThreads = 4;
  constexpr int64_t kRows = 3000;
  std::vector<torch::Tensor> dense;
  std::vector<torch::Tensor> ids;
  std::vector<std::vector<float>> alone(kThreads, std::vector<float>(kRows));
  for (int t = 0; t < kThreads; ++t) {
    dense.push_back(torch::rand({kRows, 13}) * 4);
    std::vector<torch::Tensor> columns;
    for (int64_t size : options.table_sizes)
      columns.push_back(torch::randint(0, size, {kRows, 1}, torch::kInt32));
    ids.push_back(torch::cat(columns, 1).contiguous());
    inference.Predict(View(dense[t], ids[t]), alone[t].data());
  }
  std::vector<std::vector<float>> together(kThreads, std::vector<float>(kRows));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 5; ++repeat) {
        inference.Predict(View(dense[t], ids[t]), together[t].data());
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(together[t], alone[t]) << "thread " << t;
}

}  // namespace
}  // namespace aiok::models
