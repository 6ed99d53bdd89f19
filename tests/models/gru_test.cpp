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

struct Inputs {
  PackedSequences packed;
  std::vector<int64_t> sorted;  // lengths, longest first
  torch::Tensor x, w_hh, b_hh, att;

  Inputs(const std::vector<int64_t>& lengths, int64_t hs, bool augru) : sorted(lengths) {
    torch::manual_seed(11);
    // Rows sorted by length, longest first, as the packed form wants.
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    packed = PackedSequences::FromSortedLengths(sorted);
    const int64_t n = packed.positions();
    x = torch::randn({n, 3 * hs}).requires_grad_();
    w_hh = (torch::randn({3 * hs, hs}) * 0.5).requires_grad_();
    b_hh = (torch::randn({3 * hs}) * 0.5).requires_grad_();
    if (augru)
      att = torch::rand({n}).requires_grad_();
  }
  std::vector<torch::Tensor> leaves() const {
    return att.defined() ? std::vector<torch::Tensor>{x, w_hh, b_hh, att}
                         : std::vector<torch::Tensor>{x, w_hh, b_hh};
  }
};

// The recurrence's output and the gradients of its inputs for a fixed random mix of outputs.
std::vector<torch::Tensor> Outputs(const Inputs& in, const torch::Tensor& h) {
  std::vector<torch::Tensor> out = {h.detach()};
  if (in.packed.positions() == 0)
    return out;
  torch::manual_seed(12);
  const torch::Tensor mix = torch::randn(h.sizes());
  for (const torch::Tensor& g : torch::autograd::grad({(h * mix).sum()}, in.leaves()))
    out.push_back(g);
  return out;
}

// The same by the reference: each row on its own, step by step, reading its positions from
// the packed layout (rank i of step t is at step_offsets[t] + i).
std::vector<torch::Tensor> Reference(const Inputs& in, int64_t hs) {
  const int64_t n = in.packed.positions();
  std::vector<torch::Tensor> expected(static_cast<size_t>(n));
  for (size_t i = 0; i < in.sorted.size(); ++i) {
    torch::Tensor state = torch::zeros({hs});
    for (int64_t t = 0; t < in.sorted[i]; ++t) {
      const int64_t p = in.packed.step_offsets[t] + static_cast<int64_t>(i);
      const torch::Tensor a = in.att.defined() ? in.att[p] : torch::ones({});
      state = Step(in.x[p], state, in.w_hh, in.b_hh, a);
      expected[p] = state;
    }
  }
  return Outputs(in, n > 0 ? torch::stack(expected) : torch::zeros({0, hs}));
}

void ExpectClose(const std::vector<torch::Tensor>& got, const std::vector<torch::Tensor>& want,
                 double rtol) {
  ASSERT_EQ(got.size(), want.size());
  const char* names[] = {"h", "x", "w_hh", "b_hh", "attention"};
  for (size_t k = 0; k < got.size(); ++k) {
    // Relative to the largest value (a sum of many terms differs from another order of the
    // same sum by its own size times the rounding); states to rtol, gradients to 10x that.
    if (want[k].numel() == 0)
      continue;
    const double error = (got[k] - want[k]).abs().max().item<double>();
    const double scale = want[k].abs().max().item<double>();
    EXPECT_LE(error, (k == 0 ? rtol : 10 * rtol) * scale + 1e-6)
        << names[k] << ": " << error << " of " << scale;
  }
}

void Check(const std::vector<int64_t>& lengths, int64_t hs, bool augru, double rtol = 1e-5) {
  SCOPED_TRACE(::testing::Message() << "hidden " << hs << " augru " << augru);
  const Inputs in(lengths, hs, augru);
  const torch::Tensor h = GruRecurrence(in.x, in.w_hh, in.b_hh, in.att, in.packed);
  ASSERT_EQ(h.sizes(), (std::vector<int64_t>{in.packed.positions(), hs}));
  ExpectClose(Outputs(in, h), Reference(in, hs), rtol);
}

TEST(PackedGru, RecurrenceMatchesStepByStepGates) {
  for (bool augru : {false, true}) {
    Check({3, 1, 0, 5, 2, 5, 1}, 4, augru);
    Check({1}, 3, augru);
    Check({0, 0}, 3, augru);  // no position at all
    Check({7, 6, 6, 2, 1, 1, 1, 0, 3}, 17, augru);
  }
}

TEST(PackedGru, BlocksOfRowsOnSeveralThreadsMatchOneThread) {
  // Enough positions that the rows are split into a block per thread (uneven with 3).
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < 400; ++i)
    lengths.push_back((i * 7919) % 13);
  const int64_t hs = 48;
  const int threads = at::get_num_threads();
  for (bool augru : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "augru " << augru);
    const Inputs in(lengths, hs, augru);
    at::set_num_threads(1);
    const std::vector<torch::Tensor> one =
        Outputs(in, GruRecurrence(in.x, in.w_hh, in.b_hh, in.att, in.packed));
    for (int n : {2, 3}) {
      at::set_num_threads(n);
      ExpectClose(Outputs(in, GruRecurrence(in.x, in.w_hh, in.b_hh, in.att, in.packed)), one, 1e-6);
    }
    // And the reference (13 steps of width 48 drift more from its float rounding).
    at::set_num_threads(threads);
    ExpectClose(one, Reference(in, hs), 1e-4);
  }
  at::set_num_threads(threads);
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
