#include "aiok/models/dlrm_inference.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "aiok/models/dlrm.h"
#include "aiok/models/precision.h"

namespace aiok::models {
namespace {

// The engine against the model's own forward (torch), on the same random rows.
void Compare(Interaction interaction, const std::string& preset, int64_t rows, bool bf16) {
  torch::manual_seed(rows + static_cast<int>(interaction));
  DlrmOptions options;
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
  inference.Predict(dense.data_ptr<float>(), ids.data_ptr<int32_t>(), rows, got.data());
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

}  // namespace
}  // namespace aiok::models
