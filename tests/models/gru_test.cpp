// The packed GRU/AUGRU recurrence (models/gru.h) against torch.nn.GRUCell-style steps written
// with plain libtorch ops, row by row on padded sequences: outputs, and gradients of the
// inputs, the recurrent weights and the attention through autograd.
#include "aiok/models/gru.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <numeric>

namespace aiok::models {
namespace {

// One step by the gate formulas: x_proj [3H] (x W_ih^T + b_ih), h [H], a scalar attention.
torch::Tensor Step(const torch::Tensor& x_proj, const torch::Tensor& h, const torch::Tensor& w_hh,
                   const torch::Tensor& b_hh, const torch::Tensor& a) {
  const int64_t hs = h.size(0);
  const torch::Tensor rec = torch::mv(w_hh, h) + b_hh;
  const torch::Tensor r = torch::sigmoid(x_proj.narrow(0, 0, hs) + rec.narrow(0, 0, hs));
  const torch::Tensor z = torch::sigmoid(x_proj.narrow(0, hs, hs) + rec.narrow(0, hs, hs));
  const torch::Tensor n = torch::tanh(x_proj.narrow(0, 2 * hs, hs) + r * rec.narrow(0, 2 * hs, hs));
  const torch::Tensor u = a * (1 - z);
  return (1 - u) * h + u * n;
}

void Check(const std::vector<int64_t>& lengths, int64_t hs, bool augru) {
  SCOPED_TRACE(::testing::Message() << "hidden " << hs << " augru " << augru);
  torch::manual_seed(11);
  // Rows sorted by length, longest first, as the packed form wants.
  std::vector<int64_t> sorted = lengths;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  const PackedSequences packed = PackedSequences::FromSortedLengths(sorted);
  const int64_t n = packed.positions();
  ASSERT_EQ(n, std::accumulate(sorted.begin(), sorted.end(), int64_t{0}));
  const torch::Tensor x = torch::randn({n, 3 * hs}).requires_grad_();
  const torch::Tensor w_hh = (torch::randn({3 * hs, hs}) * 0.5).requires_grad_();
  const torch::Tensor b_hh = (torch::randn({3 * hs}) * 0.5).requires_grad_();
  const torch::Tensor att = augru ? torch::rand({n}).requires_grad_() : torch::Tensor();
  const torch::Tensor h = GruRecurrence(x, w_hh, b_hh, att, packed);
  ASSERT_EQ(h.sizes(), (std::vector<int64_t>{n, hs}));

  // The reference: each row on its own, step by step, reading its positions from the packed
  // layout (rank i of step t is at step_offsets[t] + i).
  std::vector<torch::Tensor> expected(static_cast<size_t>(n));
  for (size_t i = 0; i < sorted.size(); ++i) {
    torch::Tensor state = torch::zeros({hs});
    for (int64_t t = 0; t < sorted[i]; ++t) {
      const int64_t p = packed.step_offsets[t] + static_cast<int64_t>(i);
      const torch::Tensor a = augru ? att[p] : torch::ones({});
      state = Step(x[p], state, w_hh, b_hh, a);
      expected[p] = state;
    }
  }
  const torch::Tensor want = n > 0 ? torch::stack(expected) : torch::zeros({0, hs});
  EXPECT_TRUE(torch::allclose(h, want, 1e-5, 1e-6)) << (h - want).abs().max().item<float>();
  if (n == 0)
    return;

  const torch::Tensor mix = torch::randn({n, hs});
  const auto inputs = augru ? std::vector<torch::Tensor>{x, w_hh, b_hh, att}
                            : std::vector<torch::Tensor>{x, w_hh, b_hh};
  const auto got = torch::autograd::grad({(h * mix).sum()}, inputs);
  const auto ref = torch::autograd::grad({(want * mix).sum()}, inputs);
  const char* names[] = {"x", "w_hh", "b_hh", "attention"};
  for (size_t k = 0; k < inputs.size(); ++k) {
    EXPECT_TRUE(torch::allclose(got[k], ref[k], 1e-4, 1e-5))
        << names[k] << ": " << (got[k] - ref[k]).abs().max().item<float>();
  }
}

TEST(PackedGru, RecurrenceMatchesStepByStepGates) {
  for (bool augru : {false, true}) {
    Check({3, 1, 0, 5, 2, 5, 1}, 4, augru);
    Check({1}, 3, augru);
    Check({0, 0}, 3, augru);  // no position at all
    Check({7, 6, 6, 2, 1, 1, 1, 0, 3}, 17, augru);
  }
}

TEST(PackedGru, PacksLengthsLongestFirst) {
  const PackedSequences packed = PackedSequences::FromSortedLengths({4, 2, 2, 1, 0});
  EXPECT_EQ(packed.batch_sizes, (std::vector<int64_t>{4, 3, 1, 1}));
  EXPECT_EQ(packed.step_offsets, (std::vector<int64_t>{0, 4, 7, 8, 9}));
  EXPECT_EQ(packed.positions(), 9);
  EXPECT_EQ(PackedSequences::FromSortedLengths({}).positions(), 0);
}

TEST(PackedGru, AZeroAttentionKeepsTheState) {
  // The AUGRU's point: a behaviour with attention 0 leaves the interest unchanged.
  torch::manual_seed(2);
  const PackedSequences packed = PackedSequences::FromSortedLengths({3});
  const torch::Tensor x = torch::randn({3, 12});
  const torch::Tensor w = torch::randn({12, 4});
  const torch::Tensor b = torch::randn({12});
  const torch::Tensor h = GruRecurrence(x, w, b, torch::tensor({1.0f, 0.0f, 0.0f}), packed);
  EXPECT_TRUE(torch::allclose(h[1], h[0]));
  EXPECT_TRUE(torch::allclose(h[2], h[0]));
  EXPECT_GT(h[0].abs().sum().item<float>(), 0.0f);
}

}  // namespace
}  // namespace aiok::models
