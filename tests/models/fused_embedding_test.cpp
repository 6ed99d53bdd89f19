#include "aiok/models/fused_embedding.h"

#include <gtest/gtest.h>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

// The gradient as a dense [rows x dim] tensor.
torch::Tensor Dense(const SparseGradient& g, int64_t rows) {
  torch::Tensor out = torch::zeros({rows, g.dim});
  for (int64_t u = 0; u < g.size(); ++u) {
    out[g.ids[u]] =
        torch::from_blob(const_cast<float*>(g.rows.data()) + u * g.dim, {g.dim}).clone();
  }
  return out;
}

TEST(FusedEmbedding, BackwardLeavesTheSummedGradientOfEachLookedUpRow) {
  FusedEmbeddingOptions options;
  options.table_sizes = {6, 4};
  options.dim = 3;
  FusedEmbedding fused(options);
  const torch::Tensor before = fused->weight.clone();
  torch::manual_seed(100);
  const torch::Tensor ids = torch::randint(0, 4, {16, 2}, torch::kInt32);  // many duplicates
  const torch::Tensor mix = torch::randn({16, 2, 3});
  (fused->forward(ids) * mix).sum().backward();
  EXPECT_TRUE(torch::equal(fused->weight, before)) << "backward must not update the table";
  // By hand: each row's gradient is the sum of `mix` over its lookups.
  torch::Tensor g = torch::zeros({10, 3});
  for (int64_t b = 0; b < 16; ++b) {
    for (int64_t t = 0; t < 2; ++t)
      g[fused->offsets()[t] + ids[b][t].item<int64_t>()] += mix[b][t];
  }
  const SparseGradient& sparse = fused->gradient();
  EXPECT_TRUE(torch::allclose(Dense(sparse, 10), g, 1e-6, 1e-6));
  for (int64_t u = 1; u < sparse.size(); ++u)
    EXPECT_LT(sparse.ids[u - 1], sparse.ids[u]);

  // A second backward before the step adds to it.
  (fused->forward(ids) * mix).sum().backward();
  EXPECT_TRUE(torch::allclose(Dense(fused->gradient(), 10), 2 * g, 1e-6, 1e-6));
}

TEST(FusedEmbedding, ListFieldsPoolAndSpreadTheirGradient) {
  FusedEmbeddingOptions options;
  options.table_sizes = {3, 5};  // one one-id field, one list field
  options.dim = 2;
  options.list_pooling = {Pooling::kMean};
  FusedEmbedding fused(options);
  // Row 0 lists ids 1, 1, 4; row 1 lists nothing; row 2 lists 0.
  const std::vector<int64_t> offsets = {0, 3, 3, 4};
  const std::vector<int32_t> values = {1, 1, 4, 0};
  const std::vector<data::JaggedIds> lists = {{offsets.data(), values.data()}};
  const torch::Tensor ids = torch::tensor({{2}, {0}, {1}}, torch::kInt32);
  const torch::Tensor out = fused->forward(ids, lists);
  const torch::Tensor list_table = fused->weight.narrow(0, 3, 5);
  EXPECT_TRUE(torch::allclose(out[0][1], (2 * list_table[1] + list_table[4]) / 3));
  EXPECT_TRUE(torch::equal(out[1][1], torch::zeros({2})));
  EXPECT_TRUE(torch::allclose(out[2][1], list_table[0]));
  EXPECT_TRUE(torch::equal(out[2][0], fused->weight[1]));
  const torch::Tensor mix = torch::randn({3, 2, 2});
  (out * mix).sum().backward();
  torch::Tensor g = torch::zeros({8, 2});
  g[2] += mix[0][0];
  g[0] += mix[1][0];
  g[1] += mix[2][0];
  g[3 + 1] += 2 * mix[0][1] / 3;
  g[3 + 4] += mix[0][1] / 3;
  g[3 + 0] += mix[2][1];
  EXPECT_TRUE(torch::allclose(Dense(fused->gradient(), 8), g, 1e-6, 1e-6));
}

TEST(FusedEmbedding, EvaluationLeavesNoGradient) {
  FusedEmbeddingOptions options;
  options.table_sizes = {4};
  FusedEmbedding fused(options);
  const torch::Tensor before = fused->weight.clone();
  fused->eval();
  const torch::Tensor ids = torch::tensor({{1}, {2}}, torch::kInt32);
  const torch::Tensor out = fused->forward(ids);
  EXPECT_FALSE(out.requires_grad());
  EXPECT_TRUE(torch::equal(out[0][0], before[1]));
  {
    torch::NoGradGuard no_grad;
    fused->train();
    EXPECT_FALSE(fused->forward(ids).requires_grad());
  }
  EXPECT_TRUE(fused->gradient().empty());
}

TEST(FusedEmbedding, BadShapesAndOptions) {
  FusedEmbeddingOptions options;
  options.table_sizes = {4, 4};
  FusedEmbedding fused(options);
  EXPECT_THROW(fused->forward(torch::zeros({3, 3}, torch::kInt32)), Error);
  const std::vector<int64_t> offsets = {0, 1};
  const std::vector<int32_t> values = {0};
  EXPECT_THROW(
      fused->forward(torch::zeros({1, 2}, torch::kInt32), {{offsets.data(), values.data()}}), Error)
      << "a list the options do not declare";
  options.list_pooling = {Pooling::kSum};
  FusedEmbedding with_list(options);
  const std::vector<int32_t> outside = {4};
  EXPECT_THROW(
      with_list->forward(torch::zeros({1, 1}, torch::kInt32), {{offsets.data(), outside.data()}}),
      Error)
      << "an id outside its table";
  options.table_sizes = {};
  EXPECT_THROW(FusedEmbedding{options}, Error);
  EXPECT_THROW(ParsePooling("max"), Error);
}

}  // namespace
}  // namespace aiok::models
