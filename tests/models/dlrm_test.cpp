#include "aiok/models/dlrm.h"

#include <gtest/gtest.h>

#include "aiok/core/error.h"
#include "aiok/models/dot_interaction.h"

namespace aiok::models {
namespace {

DlrmArchitecture Tiny(Interaction interaction) {
  DlrmArchitecture options;
  options.dense_features = 3;
  options.table_sizes = {5, 7};
  options.embedding_dim = 2;
  options.bottom_mlp = {4, 2};
  options.top_mlp = {3, 1};
  options.interaction = interaction;
  return options;
}

// The interaction as the DLRM reference writes it: bmm, the lower triangle, concatenation.
torch::Tensor ReferenceInteraction(const torch::Tensor& bottom, const torch::Tensor& embeddings,
                                   bool with_self) {
  const torch::Tensor vectors = torch::cat({bottom.unsqueeze(1), embeddings}, 1);
  const int64_t n = vectors.size(1);
  const torch::Tensor lower = torch::tril_indices(n, n, with_self ? 0 : -1);
  const torch::Tensor products = torch::bmm(vectors, vectors.transpose(1, 2));
  return torch::cat({bottom, products.index({torch::indexing::Slice(), lower[0], lower[1]})}, 1);
}

TEST(Dlrm, DotInteractionMatchesTheReferenceForwardAndBackward) {
  for (bool with_self : {false, true}) {
    for (int64_t d : {16, 8, 5}) {  // vectorized widths and the plain loop
      torch::manual_seed(d);
      const torch::Tensor b = torch::randn({37, d}, torch::requires_grad());
      const torch::Tensor e = torch::randn({37, 6, d}, torch::requires_grad());
      const torch::Tensor b2 = b.detach().clone().requires_grad_();
      const torch::Tensor e2 = e.detach().clone().requires_grad_();
      const torch::Tensor z = DotInteraction(b, e, with_self);
      const torch::Tensor reference = ReferenceInteraction(b2, e2, with_self);
      ASSERT_EQ(z.sizes(), reference.sizes());
      EXPECT_TRUE(torch::allclose(z, reference, 1e-5, 1e-5)) << d << " " << with_self;
      const torch::Tensor mix = torch::randn(z.sizes());
      (z * mix).sum().backward();
      (reference * mix).sum().backward();
      EXPECT_TRUE(torch::allclose(b.grad(), b2.grad(), 1e-4, 1e-4)) << "d bottom, width " << d;
      EXPECT_TRUE(torch::allclose(e.grad(), e2.grad(), 1e-4, 1e-4)) << "d embeddings, width " << d;
    }
  }
  // bf16 inputs: fp32 results, gradients back in bf16.
  const torch::Tensor b = torch::randn({4, 16}).to(torch::kBFloat16).requires_grad_();
  const torch::Tensor e = torch::randn({4, 3, 16}).requires_grad_();
  const torch::Tensor z = DotInteraction(b, e, false);
  EXPECT_EQ(z.scalar_type(), torch::kFloat32);
  z.sum().backward();
  EXPECT_EQ(b.grad().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(e.grad().scalar_type(), torch::kFloat32);
}

TEST(Dlrm, DotInteractionByHand) {
  Dlrm model(Tiny(Interaction::kDot));
  // Bottom output b and embeddings e1, e2 for one row; features: b, then <e1,b>, <e2,b>, <e2,e1>.
  const torch::Tensor b = torch::tensor({{1.0f, 2.0f}});
  const torch::Tensor e = torch::tensor({{{3.0f, 4.0f}, {5.0f, 6.0f}}});
  const torch::Tensor z = model->Interact(b, e);
  EXPECT_TRUE(torch::equal(z, torch::tensor({{1.0f, 2.0f, 11.0f, 17.0f, 39.0f}})));
  EXPECT_EQ(Tiny(Interaction::kDot).InteractionWidth(), 5);
}

TEST(Dlrm, DotWithSelfAndCatByHand) {
  const torch::Tensor b = torch::tensor({{1.0f, 2.0f}});
  const torch::Tensor e = torch::tensor({{{3.0f, 4.0f}, {5.0f, 6.0f}}});
  Dlrm with_self(Tiny(Interaction::kDotWithSelf));
  // Lower triangle with the diagonal, row by row: <b,b>; <e1,b>, <e1,e1>; <e2,b>, <e2,e1>, <e2,e2>.
  EXPECT_TRUE(torch::equal(with_self->Interact(b, e),
                           torch::tensor({{1.0f, 2.0f, 5.0f, 11.0f, 25.0f, 17.0f, 39.0f, 61.0f}})));
  Dlrm cat(Tiny(Interaction::kCat));
  EXPECT_TRUE(
      torch::equal(cat->Interact(b, e), torch::tensor({{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}})));
}

TEST(Dlrm, ForwardShapesAndKaggleWidth) {
  for (auto interaction : {Interaction::kDot, Interaction::kDotWithSelf, Interaction::kCat}) {
    Dlrm model(Tiny(interaction));
    const torch::Tensor logits = model->forward(
        torch::randn({6, 3}),
        torch::tensor({{0, 1}, {4, 6}, {2, 3}, {0, 0}, {1, 1}, {3, 5}}, torch::kInt32));
    EXPECT_EQ(logits.sizes(), torch::IntArrayRef({6}));
  }
  DlrmArchitecture kaggle;
  kaggle.table_sizes = std::vector<int64_t>(26, 10);
  ApplyDlrmPreset("dlrm-kaggle", &kaggle);
  EXPECT_EQ(kaggle.InteractionWidth(), 16 + 27 * 26 / 2);  // 367, as in the reference
}

// Plain SGD on a sparse group's gradient (the optimizers proper are train's).
void ApplySgd(SparseParameterGroup& group, float lr) {
  SparseGradient& g = group.gradient();
  float* w = group.weight_data();
  for (int64_t u = 0; u < g.size(); ++u) {
    for (int64_t j = 0; j < g.dim; ++j)
      w[g.ids[u] * g.dim + j] -= lr * g.rows[u * g.dim + j];
  }
  g.Clear();
}

TEST(Dlrm, TrainingFitsAFixedBatchThroughMlpsAndEmbeddings) {
  torch::manual_seed(1);
  Dlrm model(Tiny(Interaction::kDot));
  const torch::Tensor embedding_before = model->embedding()->weight.clone();
  const torch::Tensor dense = torch::randn({16, 3});
  const torch::Tensor ids = torch::randint(0, 5, {16, 2}, torch::kInt32);
  const torch::Tensor labels = (torch::arange(16) % 2).to(torch::kFloat32);
  torch::optim::Adagrad optimizer(model->parameters(), torch::optim::AdagradOptions(0.1));
  auto loss_now = [&] {
    return torch::binary_cross_entropy_with_logits(model->forward(dense, ids), labels);
  };
  const double first = loss_now().item<double>();
  for (int step = 0; step < 50; ++step) {
    optimizer.zero_grad();
    loss_now().backward();
    optimizer.step();
    ApplySgd(*model->embedding(), 0.1f);
  }
  EXPECT_LT(loss_now().item<double>(), 0.7 * first);
  EXPECT_FALSE(torch::equal(embedding_before, model->embedding()->weight));
}

TEST(Dlrm, OptionsAndPresetsAreChecked) {
  DlrmArchitecture bad = Tiny(Interaction::kDot);
  bad.bottom_mlp = {4, 3};  // must end at the embedding dim 2
  EXPECT_THROW(Dlrm{bad}, Error);
  bad = Tiny(Interaction::kDot);
  bad.top_mlp = {3, 2};
  EXPECT_THROW(Dlrm{bad}, Error);
  DlrmArchitecture options;
  EXPECT_THROW(ApplyDlrmPreset("dlrm-huge", &options), Error);
  EXPECT_EQ(ParseMlpSizes("13-512-256-64-16", 13), (std::vector<int64_t>{512, 256, 64, 16}));
  EXPECT_EQ(ParseMlpSizes("512-256-1", 13), (std::vector<int64_t>{512, 256, 1}));
  EXPECT_THROW(ParseMlpSizes("512--1", 13), Error);
  EXPECT_THROW(ParseMlpSizes("big", 13), Error);
  EXPECT_THROW(ParseInteraction("sum"), Error);
}

}  // namespace
}  // namespace aiok::models
