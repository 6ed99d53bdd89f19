#include "aiok/models/fast_linear.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

// FastLinear against torch::linear with the same weights: output and all three gradients.
void Compare(int64_t batch, int64_t in, int64_t out) {
  torch::manual_seed(batch * 1000 + in * 10 + out);
  FastLinear fast(in, out);
  const torch::Tensor x = torch::randn({batch, in}, torch::requires_grad());
  const torch::Tensor mix = torch::randn({batch, out});
  (fast->forward(x) * mix).sum().backward();
  const torch::Tensor w = fast->weight.detach().clone().requires_grad_();
  const torch::Tensor b = fast->bias.detach().clone().requires_grad_();
  const torch::Tensor x2 = x.detach().clone().requires_grad_();
  const torch::Tensor reference = torch::linear(x2, w, b);
  (reference * mix).sum().backward();
  EXPECT_TRUE(torch::allclose(fast->forward(x), reference, 1e-4, 1e-5)) << batch << "x" << in;
  EXPECT_TRUE(torch::allclose(x.grad(), x2.grad(), 1e-4, 1e-5)) << "dx " << batch << "x" << in;
  EXPECT_TRUE(torch::allclose(fast->weight.grad(), w.grad(), 1e-4, 1e-4)) << "dw";
  EXPECT_TRUE(torch::allclose(fast->bias.grad(), b.grad(), 1e-4, 1e-4)) << "db";
}

TEST(FastLinear, MatchesTorchLinearForwardAndBackward) {
  Compare(5, 3, 4);
  Compare(1, 13, 512);
  Compare(64, 367, 33);
  Compare(300, 256, 1);
}

TEST(FastLinear, OneRowLeavesTheParametersAlone) {
  // Regression: for one row the bias broadcast was a view of the bias, which the GEMM then
  // accumulated into — every single-row forward (a served request) moved the bias.
  torch::manual_seed(3);
  FastLinear fast(7, 5);
  const torch::Tensor bias = fast->bias.detach().clone();
  const torch::Tensor x = torch::randn({1, 7});
  torch::NoGradGuard no_grad;
  const torch::Tensor first = fast->forward(x);
  const torch::Tensor second = fast->forward(x);
  EXPECT_TRUE(torch::equal(fast->bias, bias));
  EXPECT_TRUE(torch::equal(first, second));
}

TEST(FastLinear, DefersToTorchUnderBf16Autocast) {
  FastLinear fast(8, 4);
  const torch::Tensor x = torch::randn({3, 8});
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
  const torch::Tensor y = fast->forward(x);
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::allclose(y.to(torch::kFloat32), torch::linear(x, fast->weight, fast->bias),
                              0.05, 0.05));
}

TEST(FastLinear, RejectsWrongWidth) {
  FastLinear fast(8, 4);
  EXPECT_THROW(fast->forward(torch::randn({3, 7})), Error);
}

}  // namespace
}  // namespace aiok::models
