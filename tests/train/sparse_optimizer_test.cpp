#include "aiok/train/sparse_optimizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"
#include "aiok/models/fused_embedding.h"

namespace aiok::train {
namespace {

using models::FusedEmbedding;
using models::FusedEmbeddingOptions;

// Reference: one torch::nn::EmbeddingBag (sum of one id per bag, sparse gradients) per table,
// starting from the fused weights, trained by a torch optimizer.
struct Reference {
  std::vector<torch::nn::EmbeddingBag> tables;

  explicit Reference(const models::FusedEmbeddingImpl& fused) {
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

FusedEmbeddingOptions Tables(std::vector<int64_t> sizes, int64_t dim) {
  FusedEmbeddingOptions options;
  options.table_sizes = std::move(sizes);
  options.dim = dim;
  return options;
}

void CompareWithTorch(
    SparseUpdate update,
    const std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor>)>&
        make_optimizer) {
  const FusedEmbeddingOptions options = Tables({5, 17, 3}, 4);
  torch::manual_seed(0);
  FusedEmbedding fused(options);
  SparseOptimizer sparse({fused.get()}, update, 0.1);
  Reference reference(*fused);
  auto optimizer = make_optimizer(reference.parameters());
  for (int step = 0; step < 6; ++step) {
    const torch::Tensor ids = Ids(32, options.table_sizes, step);
    const torch::Tensor mix = torch::randn({32, 3, 4});
    // The same loss through both: gradients, then the step.
    const torch::Tensor out = fused->forward(ids);
    (out * mix).sum().backward();
    sparse.Step();
    EXPECT_TRUE(fused->gradient().empty()) << "the step consumes the gradient";
    optimizer->zero_grad();
    const torch::Tensor ref_out = reference.forward(ids);
    ASSERT_TRUE(torch::allclose(out, ref_out, 1e-5, 1e-6)) << "forward differs at step " << step;
    (ref_out * mix).sum().backward();
    optimizer->step();
    ASSERT_TRUE(torch::allclose(fused->weight, reference.weight(), 1e-5, 1e-6))
        << "weights differ after step " << step;
  }
}

TEST(SparseOptimizer, SgdMatchesEmbeddingBagWithTorchSgd) {
  CompareWithTorch(SparseUpdate::kSgd, [](std::vector<torch::Tensor> params) {
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(0.1));
  });
}

TEST(SparseOptimizer, AdagradMatchesEmbeddingBagWithTorchAdagrad) {
  CompareWithTorch(SparseUpdate::kAdagrad, [](std::vector<torch::Tensor> params) {
    return std::make_unique<torch::optim::Adagrad>(params, torch::optim::AdagradOptions(0.1));
  });
}

TEST(SparseOptimizer, RowWiseAdagradMatchesHandWrittenRule) {
  const FusedEmbeddingOptions options = Tables({6, 4}, 3);
  FusedEmbedding fused(options);
  SparseOptimizer sparse({fused.get()}, SparseUpdate::kRowWiseAdagrad, 0.05);
  torch::Tensor w = fused->weight.clone();
  torch::Tensor s = torch::zeros({10});
  for (int step = 0; step < 5; ++step) {
    const torch::Tensor ids = Ids(16, options.table_sizes, 100 + step);
    const torch::Tensor mix = torch::randn({16, 2, 3});
    (fused->forward(ids) * mix).sum().backward();
    sparse.Step();
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
    ASSERT_TRUE(torch::allclose(sparse.state(0), s, 1e-5, 1e-6)) << "step " << step;
  }
}

// FTRL-Proximal by hand (McMahan et al., 2013, Algorithm 1), on dense tensors: rows that no
// lookup touched keep their weights and state.
struct FtrlByHand {
  torch::Tensor w, z, n;
  double alpha, beta, l1, l2;

  void Step(const torch::Tensor& g, const torch::Tensor& touched) {
    const torch::Tensor n_new = n + g * g;
    const torch::Tensor sigma = (n_new.sqrt() - n.sqrt()) / alpha;
    const torch::Tensor z_new = z + g - sigma * w;
    const torch::Tensor w_new =
        torch::where(z_new.abs() <= l1, torch::zeros_like(w),
                     -(z_new - z_new.sign() * l1) / ((beta + n_new.sqrt()) / alpha + l2));
    const torch::Tensor mask = touched.unsqueeze(1).expand_as(w);
    w = torch::where(mask, w_new, w);
    z = torch::where(mask, z_new, z);
    n = torch::where(mask, n_new, n);
  }
};

TEST(SparseOptimizer, FtrlMatchesHandWrittenRuleAndAGroupsOwnRuleWins) {
  // Group 1 runs the run's FTRL (lr 0.1, no regularization); group 2 brings its own FTRL rule
  // with L1 and L2 at a fixed rate, which the run's learning rate does not change.
  FusedEmbedding run_rule(Tables({6, 4}, 3));
  FusedEmbeddingOptions own_options = Tables({5}, 1);
  own_options.group_name = "wide";
  own_options.zero_init = true;
  own_options.own_update = models::SparseUpdateRule{"ftrl", 0.5, 0.02, 0.1, 1.0};
  FusedEmbedding own_rule(own_options);
  SparseOptimizer sparse({run_rule.get(), own_rule.get()}, SparseUpdate::kFtrl, 0.1);
  sparse.SetLr(0.1);
  FtrlByHand first{run_rule->weight.clone(), torch::zeros({10, 3}), torch::zeros({10, 3}),
                   0.1, 1.0, 0.0, 0.0};
  FtrlByHand second{torch::zeros({5, 1}), torch::zeros({5, 1}), torch::zeros({5, 1}),
                    0.5, 1.0, 0.02, 0.1};
  int zeros_from_l1 = 0;
  for (int step = 0; step < 6; ++step) {
    const torch::Tensor ids = Ids(8, {6, 4}, 200 + step);
    const torch::Tensor ids2 = Ids(8, {5}, 300 + step);
    const torch::Tensor mix = torch::randn({8, 2, 3});
    const torch::Tensor mix2 = torch::randn({8, 1, 1}) * 0.1;
    ((run_rule->forward(ids) * mix).sum() + (own_rule->forward(ids2) * mix2).sum()).backward();
    sparse.Step();
    torch::Tensor g = torch::zeros({10, 3});
    torch::Tensor touched = torch::zeros({10}, torch::kBool);
    for (int64_t b = 0; b < 8; ++b) {
      for (int64_t t = 0; t < 2; ++t) {
        const int64_t row = run_rule->offsets()[t] + ids[b][t].item<int64_t>();
        g[row] += mix[b][t];
        touched[row] = true;
      }
    }
    first.Step(g, touched);
    torch::Tensor g2 = torch::zeros({5, 1});
    torch::Tensor touched2 = torch::zeros({5}, torch::kBool);
    for (int64_t b = 0; b < 8; ++b) {
      const int64_t row = ids2[b][0].item<int64_t>();
      g2[row] += mix2[b][0];
      touched2[row] = true;
    }
    second.Step(g2, touched2);
    ASSERT_TRUE(torch::allclose(run_rule->weight, first.w, 1e-5, 1e-6)) << "step " << step;
    ASSERT_TRUE(torch::allclose(own_rule->weight, second.w, 1e-5, 1e-6)) << "step " << step;
    ASSERT_TRUE(torch::allclose(sparse.state(0), torch::cat({first.z, first.n}, 1), 1e-5, 1e-6));
    zeros_from_l1 += (touched2 & (own_rule->weight.squeeze(1) == 0)).sum().item<int>();
    sparse.SetLr(0.1 / (step + 2));  // a schedule: moves group 1's rate only
    first.alpha = 0.1 / (step + 2);
  }
  EXPECT_GT(zeros_from_l1, 0) << "L1 should hold some touched wide weights at exactly zero";
}

// The update as FusedEmbedding applied it inside backward before gradients and updates were
// split, kept verbatim (less its thread split) as the reference: per table, lookups sorted by
// (id, position), each row's gradients summed, then updated once.
void FusedUpdateBeforeTheSplit(const models::FusedEmbeddingImpl& module, SparseUpdate update,
                               float lr, float eps, const torch::Tensor& ids,
                               const torch::Tensor& grad, torch::Tensor& weight,
                               torch::Tensor& state) {
  const int64_t dim = module.options().dim;
  const auto tables = static_cast<int64_t>(module.offsets().size());
  const torch::Tensor id64 = ids.to(torch::kInt64).contiguous();
  const torch::Tensor g = grad.to(torch::kFloat32).contiguous().view({-1, dim});
  const int64_t batch = id64.size(0);
  const int64_t* id = id64.data_ptr<int64_t>();
  float* w = weight.data_ptr<float>();
  float* s = state.numel() > 0 ? state.data_ptr<float>() : nullptr;
  const float* gp = g.data_ptr<float>();
  std::vector<uint64_t> keys(static_cast<size_t>(batch));
  std::vector<float> sum(static_cast<size_t>(dim));
  for (int64_t t = 0; t < tables; ++t) {
    for (int64_t b = 0; b < batch; ++b)
      keys[b] = (static_cast<uint64_t>(id[b * tables + t]) << 32) | static_cast<uint64_t>(b);
    std::sort(keys.begin(), keys.end());
    for (int64_t k = 0; k < batch;) {
      const uint64_t row_id = keys[k] >> 32;
      std::fill(sum.begin(), sum.end(), 0.0f);
      for (; k < batch && (keys[k] >> 32) == row_id; ++k) {
        const int64_t b = static_cast<int64_t>(keys[k] & 0xffffffffu);
        const float* src = gp + (b * tables + t) * dim;
        for (int64_t j = 0; j < dim; ++j)
          sum[j] += src[j];
      }
      const int64_t r = module.offsets()[static_cast<size_t>(t)] + static_cast<int64_t>(row_id);
      float* wr = w + r * dim;
      switch (update) {
        case SparseUpdate::kSgd:
          for (int64_t j = 0; j < dim; ++j)
            wr[j] -= lr * sum[j];
          break;
        case SparseUpdate::kAdagrad: {
          float* sr = s + r * dim;
          for (int64_t j = 0; j < dim; ++j) {
            sr[j] += sum[j] * sum[j];
            wr[j] -= lr * sum[j] / (std::sqrt(sr[j]) + eps);
          }
          break;
        }
        case SparseUpdate::kRowWiseAdagrad: {
          float mean_square = 0.0f;
          for (int64_t j = 0; j < dim; ++j)
            mean_square += sum[j] * sum[j];
          s[r] += mean_square / static_cast<float>(dim);
          const float scale = lr / (std::sqrt(s[r]) + eps);
          for (int64_t j = 0; j < dim; ++j)
            wr[j] -= scale * sum[j];
          break;
        }
      }
    }
  }
}

TEST(SparseOptimizer, GradientThenStepIsBitForBitThePreviousFusedUpdate) {
  for (SparseUpdate update :
       {SparseUpdate::kSgd, SparseUpdate::kAdagrad, SparseUpdate::kRowWiseAdagrad}) {
    // Duplicates in the small tables, few in the large one.
    const FusedEmbeddingOptions options = Tables({50, 3, 1000, 7}, 16);
    torch::manual_seed(9);
    FusedEmbedding fused(options);
    SparseOptimizer sparse({fused.get()}, update, 0.07);
    torch::Tensor weight = fused->weight.clone();
    torch::Tensor state = sparse.state(0).clone();
    for (int step = 0; step < 4; ++step) {
      const torch::Tensor ids = Ids(2048, options.table_sizes, 40 + step);
      const torch::Tensor grad = torch::randn({2048, 4, 16});
      fused->forward(ids).backward(grad);
      sparse.Step();
      FusedUpdateBeforeTheSplit(*fused, update, 0.07f, 1e-10f, ids, grad, weight, state);
      ASSERT_TRUE(torch::equal(fused->weight, weight))
          << SparseUpdateNames()[static_cast<int>(update)] << " step " << step;
      ASSERT_TRUE(torch::equal(sparse.state(0), state));
    }
  }
}

TEST(SparseOptimizer, StateRoundTripsAndLearningRateChanges) {
  const FusedEmbeddingOptions options = Tables({8, 8}, 4);
  FusedEmbedding a(options);
  SparseOptimizer first({a.get()}, SparseUpdate::kAdagrad, 0.1);
  const torch::Tensor ids = Ids(8, options.table_sizes, 1);
  a->forward(ids).sum().backward();
  first.Step();
  torch::serialize::OutputArchive out;
  first.Save(out);
  std::stringstream buffer;
  out.save_to(buffer);
  FusedEmbedding b(options);
  {
    torch::NoGradGuard no_grad;
    b->weight.copy_(a->weight);
  }
  SparseOptimizer second({b.get()}, SparseUpdate::kAdagrad, 0.1);
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  second.Load(in);
  EXPECT_TRUE(torch::equal(first.state(0), second.state(0)));
  a->forward(ids).sum().backward();
  first.Step();
  b->forward(ids).sum().backward();
  second.Step();
  EXPECT_TRUE(torch::equal(a->weight, b->weight));
  // A zero rate leaves the rows, whatever the gradient.
  second.SetLr(0.0);
  const torch::Tensor before = b->weight.clone();
  b->forward(ids).sum().backward();
  second.Step();
  EXPECT_TRUE(torch::equal(b->weight, before));
  EXPECT_THROW(ParseSparseUpdate("adam"), Error);
}

}  // namespace
}  // namespace aiok::train
