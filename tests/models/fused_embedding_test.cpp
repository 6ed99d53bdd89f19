#include "aiok/models/fused_embedding.h"

#include <gtest/gtest.h>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

// Reference: one torch::nn::EmbeddingBag (sum of one id per bag, sparse gradients) per table,
// starting from the fused weights, trained by a torch optimizer.
struct Reference {
  std::vector<torch::nn::EmbeddingBag> tables;

  Reference(const FusedEmbeddingImpl& fused) {
    const auto& sizes = fused.options().table_sizes;
    for (size_t t = 0; t < sizes.size(); ++t) {
      auto bag =
          torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(sizes[t], fused.options().dim)
                                      .mode(torch::kSum)
                                      .sparse(true));
      torch::NoGradGuard no_grad;
      bag->weight.copy_(fused.weight.narrow(0, fused.offsets()[t], sizes[t]));
      tables.push_back(bag);
    }
  }
  std::vector<torch::Tensor> parameters() {
    std::vector<torch::Tensor> params;
    for (auto& t : tables)
      params.push_back(t->weight);
    return params;
  }
  torch::Tensor forward(const torch::Tensor& ids) {
    std::vector<torch::Tensor> outs;
    for (size_t t = 0; t < tables.size(); ++t) {
      const torch::Tensor column = ids.select(1, static_cast<int64_t>(t)).to(torch::kInt64);
      const torch::Tensor offsets = torch::arange(ids.size(0), torch::kInt64);
      outs.push_back(tables[t]->forward(column, offsets));
    }
    return torch::stack(outs, 1);
  }
  torch::Tensor weight() {
    std::vector<torch::Tensor> ws;
    for (auto& t : tables)
      ws.push_back(t->weight);
    return torch::cat(ws, 0);
  }
};

// Batches with many duplicate ids, so that summing a row's gradients matters.
torch::Tensor Ids(int64_t batch, const std::vector<int64_t>& sizes, int64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> columns;
  for (int64_t size : sizes)
    columns.push_back(torch::randint(0, size, {batch}, torch::kInt64));
  return torch::stack(columns, 1).to(torch::kInt32);
}

void CompareWithTorch(
    SparseUpdate update,
    const std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor>)>&
        make_optimizer) {
  FusedEmbeddingOptions options;
  options.table_sizes = {5, 17, 3};
  options.dim = 4;
  options.update = update;
  options.lr = 0.1;
  torch::manual_seed(0);
  FusedEmbedding fused(options);
  Reference reference(*fused);
  auto optimizer = make_optimizer(reference.parameters());
  for (int step = 0; step < 6; ++step) {
    const torch::Tensor ids = Ids(32, options.table_sizes, step);
    const torch::Tensor mix = torch::randn({32, 3, 4});
    // The same loss through both.
    const torch::Tensor out = fused->forward(ids);
    (out * mix).sum().backward();
    optimizer->zero_grad();
    const torch::Tensor ref_out = reference.forward(ids);
    ASSERT_TRUE(torch::allclose(out, ref_out, 1e-5, 1e-6)) << "forward differs at step " << step;
    (ref_out * mix).sum().backward();
    optimizer->step();
    ASSERT_TRUE(torch::allclose(fused->weight, reference.weight(), 1e-5, 1e-6))
        << "weights differ after step " << step;
  }
}

TEST(FusedEmbedding, SgdMatchesEmbeddingBagWithTorchSgd) {
  CompareWithTorch(SparseUpdate::kSgd, [](std::vector<torch::Tensor> params) {
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(0.1));
  });
}

TEST(FusedEmbedding, AdagradMatchesEmbeddingBagWithTorchAdagrad) {
  CompareWithTorch(SparseUpdate::kAdagrad, [](std::vector<torch::Tensor> params) {
    return std::make_unique<torch::optim::Adagrad>(params, torch::optim::AdagradOptions(0.1));
  });
}

TEST(FusedEmbedding, RowWiseAdagradMatchesHandWrittenRule) {
  FusedEmbeddingOptions options;
  options.table_sizes = {6, 4};
  options.dim = 3;
  options.update = SparseUpdate::kRowWiseAdagrad;
  options.lr = 0.05;
  FusedEmbedding fused(options);
  torch::Tensor w = fused->weight.clone();
  torch::Tensor s = torch::zeros({10});
  for (int step = 0; step < 5; ++step) {
    const torch::Tensor ids = Ids(16, options.table_sizes, 100 + step);
    const torch::Tensor mix = torch::randn({16, 2, 3});
    (fused->forward(ids) * mix).sum().backward();
    // By hand: the dense gradient of each row is the sum of `mix` over its lookups.
    torch::Tensor g = torch::zeros({10, 3});
    for (int64_t b = 0; b < 16; ++b) {
      for (int64_t t = 0; t < 2; ++t) {
        const int64_t row = fused->offsets()[t] + ids[b][t].item<int64_t>();
        g[row] += mix[b][t];
      }
    }
    s += (g * g).mean(1);
    w -= 0.05 * g / (s.sqrt() + 1e-10).unsqueeze(1);
    ASSERT_TRUE(torch::allclose(fused->weight, w, 1e-5, 1e-6)) << "step " << step;
    ASSERT_TRUE(torch::allclose(fused->state, s, 1e-5, 1e-6)) << "step " << step;
  }
}

TEST(FusedEmbedding, EvaluationDoesNotUpdate) {
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
}

TEST(FusedEmbedding, BadShapesAndOptions) {
  FusedEmbeddingOptions options;
  options.table_sizes = {4, 4};
  FusedEmbedding fused(options);
  EXPECT_THROW(fused->forward(torch::zeros({3, 3}, torch::kInt32)), Error);
  options.table_sizes = {};
  EXPECT_THROW(FusedEmbedding{options}, Error);
  EXPECT_THROW(ParseSparseUpdate("adam"), Error);
}

}  // namespace
}  // namespace aiok::models
