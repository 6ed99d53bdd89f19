#include "aiok/models/gru.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

// exp without branches, so that GCC vectorizes the gate loops (-O3 -march=native); std::exp
// is a call per element. Cody-Waite range reduction and Cephes' expf polynomial: relative
// error about 2e-7 over the clamped range.
inline float Exp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // Round x / ln 2 to the nearest integer by adding and subtracting 1.5 * 2^23.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

inline float Sigmoid(float x) { return 1.0f / (1.0f + Exp(-x)); }
inline float Tanh(float x) { return 1.0f - 2.0f / (1.0f + Exp(2.0f * x)); }

// One row of one step, forward: gates from the input projection x and the recurrent term rec
// ([3H] each), the new state from the old one. Separate functions over restrict pointers, so
// that GCC vectorizes them (inside the step lambdas it does not).
void GateRow(const float* __restrict x, const float* __restrict rec, const float* __restrict h_old,
             float a, int64_t hs, float* __restrict gates, float* __restrict candidate_hidden,
             float* __restrict h_new) {
  for (int64_t j = 0; j < hs; ++j) {
    const float r = Sigmoid(x[j] + rec[j]);
    const float z = Sigmoid(x[hs + j] + rec[hs + j]);
    const float n = Tanh(x[2 * hs + j] + r * rec[2 * hs + j]);
    const float old = h_old[j];
    const float u = a * (1.0f - z);
    gates[j] = r;
    gates[hs + j] = z;
    gates[2 * hs + j] = n;
    candidate_hidden[j] = rec[2 * hs + j];
    h_new[j] = old + u * (n - old);
  }
}

// One row of one step, backward: from the state's gradient (the output's plus the carry from
// the next step) to the gradients of x and rec, the carry to the previous step (written over
// `carry`), and the returned gradient of the attention.
float GateRowBackward(const float* __restrict gates, const float* __restrict candidate_hidden,
                      const float* __restrict h_old, const float* __restrict d_out, float a,
                      int64_t hs, float* __restrict carry, float* __restrict d_x,
                      float* __restrict d_rec) {
  float d_a = 0.0f;
  for (int64_t j = 0; j < hs; ++j) {
    const float r = gates[j];
    const float z = gates[hs + j];
    const float n = gates[2 * hs + j];
    const float old = h_old[j];
    const float dh = d_out[j] + carry[j];
    const float u = a * (1.0f - z);
    const float du = dh * (n - old);  // h' = old + u (n - old)
    d_a += du * (1.0f - z);
    const float dn_pre = dh * u * (1.0f - n * n);
    const float dr_pre = dn_pre * candidate_hidden[j] * r * (1.0f - r);
    const float dz_pre = -a * du * z * (1.0f - z);
    d_x[j] = dr_pre;
    d_x[hs + j] = dz_pre;
    d_x[2 * hs + j] = dn_pre;
    d_rec[j] = dr_pre;
    d_rec[hs + j] = dz_pre;
    d_rec[2 * hs + j] = dn_pre * r;
    carry[j] = dh * (1.0f - u);
  }
  return d_a;
}

// Rows are independent through the whole recurrence (rank i of step t reads only rank i of
// step t-1), so each thread runs every step for its own block of ranks: one parallel region per
// pass instead of one per step, which on a busy machine costs far more than the step itself
// (2 threads at load 6: 10x slower than 1 thread with a region per step). Blocks hold about
// equal numbers of positions; small batches run in one block.
std::vector<int64_t> RankBlocks(const std::vector<int64_t>& batch_sizes, int64_t h_size) {
  const int64_t widest = batch_sizes.empty() ? 0 : batch_sizes[0];
  int64_t positions = 0;
  for (int64_t n : batch_sizes)
    positions += n;
  constexpr int64_t kMinBlockWork = 32768;  // positions x hidden per block
  const int64_t blocks = std::clamp<int64_t>(positions * h_size / kMinBlockWork, 1,
                                             std::max<int64_t>(1, at::get_num_threads()));
  std::vector<int64_t> bounds = {0};
  if (blocks > 1) {
    // Rank i lives for lengths[i] steps: cut where the running sum of lengths passes k / blocks.
    std::vector<int64_t> lengths(static_cast<size_t>(widest), 0);
    for (int64_t n : batch_sizes) {
      for (int64_t i = 0; i < n; ++i)
        ++lengths[i];
    }
    int64_t sum = 0;
    for (int64_t i = 0; i < widest && static_cast<int64_t>(bounds.size()) < blocks; ++i) {
      sum += lengths[i];
      if (sum * blocks >= positions * static_cast<int64_t>(bounds.size()))
        bounds.push_back(i + 1);
    }
  }
  if (bounds.back() < widest)
    bounds.push_back(widest);
  return bounds;
}

// Runs body(block begin rank, block end rank) for each block, side by side. A lone block (a
// small batch) runs on this thread with oneDNN's GEMMs kept on it too: otherwise each step's
// small recurrent GEMM opens a parallel region of its own.
template <typename Body>
void ForEachBlock(const std::vector<int64_t>& bounds, const Body& body) {
  const auto blocks = static_cast<int64_t>(bounds.size()) - 1;
  if (blocks <= 1) {
    if (blocks == 1) {
      const int threads = omp_get_max_threads();
      omp_set_num_threads(1);  // this thread's setting only, restored below
      try {
        body(bounds[0], bounds[1]);
      } catch (...) {
        omp_set_num_threads(threads);
        throw;
      }
      omp_set_num_threads(threads);
    }
    return;
  }
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      body(bounds[k], bounds[k + 1]);
  });
}

}  // namespace

void GruRecurrenceForward(const float* x, const float* w_hh, const float* b_hh,
                          const float* attention, const PackedSequences& packed, int64_t h_size,
                          float* h, float* gates, float* candidate_hidden) {
  const int64_t g_size = 3 * h_size;
  const std::vector<int64_t>& sizes = packed.batch_sizes;
  const std::vector<int64_t>& offsets = packed.step_offsets;
  // The state before the first step, read like any other (a branch in the gate loop would
  // keep GCC from vectorizing it).
  const std::vector<float> zeros(static_cast<size_t>(h_size), 0.0f);
  ForEachBlock(RankBlocks(sizes, h_size), [&](int64_t first, int64_t last) {
    // rec = b_hh + h_prev W_hh^T for the block's live ranks (the initial state is zero).
    std::vector<float> recurrent(static_cast<size_t>((last - first) * g_size));
    // Where gates go when the caller keeps none: one row, overwritten.
    std::vector<float> scratch(gates == nullptr ? static_cast<size_t>(4 * h_size) : 0);
    float* rec = recurrent.data();
    for (int64_t t = 0; t < packed.steps(); ++t) {
      const int64_t end = std::min(last, sizes[t]);
      if (end <= first)
        break;
      const int64_t rows = end - first;
      const float* previous = t > 0 ? h + (offsets[t - 1] + first) * h_size : nullptr;
      for (int64_t i = 0; i < rows; ++i)
        std::copy(b_hh, b_hh + g_size, rec + i * g_size);
      if (previous != nullptr) {
        Sgemm(false, true, rows, g_size, h_size, 1.0f, previous, h_size, w_hh, h_size, 1.0f, rec,
              g_size);
      }
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t p = offsets[t] + first + i;
        GateRow(
            x + p * g_size, rec + i * g_size,
            previous != nullptr ? previous + i * h_size : zeros.data(),
            attention != nullptr ? attention[p] : 1.0f, h_size,
            gates != nullptr ? gates + p * g_size : scratch.data(),
            candidate_hidden != nullptr ? candidate_hidden + p * h_size : scratch.data() + g_size,
            h + p * h_size);
      }
    }
  });
}

namespace {

class GruFunction : public torch::autograd::Function<GruFunction> {
 public:
  // `attention`: [positions] for an AUGRU, empty ([0], never undefined: autograd records every
  // tensor input's device) for a GRU, told apart by `augru`.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               torch::Tensor w_hh, torch::Tensor b_hh, torch::Tensor attention,
                               bool augru, const PackedSequences* packed) {
    const int64_t n_pos = x.size(0);
    const int64_t h_size = w_hh.size(1);
    const int64_t g_size = 3 * h_size;
    torch::Tensor h = torch::empty({n_pos, h_size});
    // Saved for backward: the activated gates (r, z, n) and the candidate's recurrent term
    // h W_hn^T + b_hn, before r scales it.
    torch::Tensor gates = torch::empty({n_pos, g_size});
    torch::Tensor candidate_hidden = torch::empty({n_pos, h_size});

    GruRecurrenceForward(x.data_ptr<float>(), w_hh.data_ptr<float>(), b_hh.data_ptr<float>(),
                         augru ? attention.data_ptr<float>() : nullptr, *packed, h_size,
                         h.data_ptr<float>(), gates.data_ptr<float>(),
                         candidate_hidden.data_ptr<float>());
    ctx->save_for_backward({w_hh, attention, h, gates, candidate_hidden});
    ctx->saved_data["batch_sizes"] = packed->batch_sizes;
    ctx->saved_data["augru"] = augru;
    return h;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& w_hh = saved[0];
    const torch::Tensor& attention = saved[1];
    const torch::Tensor& h = saved[2];
    const torch::Tensor& gates = saved[3];
    const torch::Tensor& candidate_hidden = saved[4];
    const std::vector<int64_t> sizes = ctx->saved_data["batch_sizes"].toIntVector();
    std::vector<int64_t> offsets(sizes.size() + 1, 0);
    for (size_t t = 0; t < sizes.size(); ++t)
      offsets[t + 1] = offsets[t] + sizes[t];
    const auto steps = static_cast<int64_t>(sizes.size());

    const int64_t n_pos = h.size(0);
    const int64_t h_size = w_hh.size(1);
    const int64_t g_size = 3 * h_size;
    const torch::Tensor dh_out = grads[0].to(torch::kFloat32).contiguous();
    torch::Tensor dx = torch::empty({n_pos, g_size});
    // The gradient of each position's recurrent pre-activations (rec in forward).
    torch::Tensor drec = torch::empty({n_pos, g_size});
    const bool has_attention = ctx->saved_data["augru"].toBool();
    torch::Tensor datt = has_attention ? torch::empty({n_pos}) : torch::Tensor();

    const float* dout = dh_out.data_ptr<float>();
    const float* w = w_hh.data_ptr<float>();
    const float* att = has_attention ? attention.data_ptr<float>() : nullptr;
    const float* hp = h.data_ptr<float>();
    const float* gp = gates.data_ptr<float>();
    const float* cp = candidate_hidden.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    float* drp = drec.data_ptr<float>();
    float* dap = has_attention ? datt.data_ptr<float>() : nullptr;
    const std::vector<float> zeros(static_cast<size_t>(h_size), 0.0f);
    ForEachBlock(RankBlocks(sizes, h_size), [&](int64_t first, int64_t last) {
      // The gradient reaching each rank's state from the next step. Ranks beyond the next
      // step's are never written before their own last step: their carry is still zero.
      std::vector<float> carry(static_cast<size_t>((last - first) * h_size), 0.0f);
      float* cy = carry.data();
      for (int64_t t = steps - 1; t >= 0; --t) {
        const int64_t end = std::min(last, sizes[t]);
        if (end <= first)
          continue;
        const int64_t rows = end - first;
        const int64_t at_pos = offsets[t] + first;
        const float* previous = t > 0 ? hp + (offsets[t - 1] + first) * h_size : nullptr;
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t p = at_pos + i;
          const float d_a =
              GateRowBackward(gp + p * g_size, cp + p * h_size,
                              previous != nullptr ? previous + i * h_size : zeros.data(),
                              dout + p * h_size, att != nullptr ? att[p] : 1.0f, h_size,
                              cy + i * h_size, dxp + p * g_size, drp + p * g_size);
          if (dap != nullptr)
            dap[p] = d_a;
        }
        // carry += drec W_hh: the recurrent GEMM's share of the previous state's gradient.
        if (previous != nullptr) {
          Sgemm(false, false, rows, h_size, g_size, 1.0f, drp + at_pos * g_size, g_size, w, h_size,
                1.0f, cy, h_size);
        }
      }
    });

    torch::Tensor dw;
    torch::Tensor db;
    if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
      db = drec.sum(0);
      // dW_hh = sum over steps t >= 1 of drec_t^T h_{t-1}: one GEMM over the previous states
      // gathered in packed order (step 0's previous state is zero and is left out).
      dw = torch::zeros({g_size, h_size});
      const int64_t first = steps > 0 ? sizes[0] : 0;
      const int64_t later = n_pos - first;
      if (later > 0) {
        std::vector<float> previous_states(static_cast<size_t>(later * h_size));
        for (int64_t t = 1; t < steps; ++t) {
          std::memcpy(previous_states.data() + (offsets[t] - first) * h_size,
                      hp + offsets[t - 1] * h_size,
                      static_cast<size_t>(sizes[t] * h_size) * sizeof(float));
        }
        Sgemm(true, false, g_size, h_size, later, 1.0f, drp + first * g_size, g_size,
              previous_states.data(), h_size, 0.0f, dw.data_ptr<float>(), h_size);
      }
    }
    return {dx, dw, db, datt, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

PackedSequences PackedSequences::FromSortedLengths(const std::vector<int64_t>& lengths) {
  PackedSequences packed;
  const int64_t longest = lengths.empty() ? 0 : lengths.front();
  size_t alive = lengths.size();
  for (int64_t t = 0; t < longest; ++t) {
    while (alive > 0 && lengths[alive - 1] <= t)
      --alive;
    packed.batch_sizes.push_back(static_cast<int64_t>(alive));
    packed.step_offsets.push_back(packed.step_offsets.back() + static_cast<int64_t>(alive));
  }
  return packed;
}

torch::Tensor GruRecurrence(const torch::Tensor& x, const torch::Tensor& w_hh,
                            const torch::Tensor& b_hh, const torch::Tensor& attention,
                            const PackedSequences& packed) {
  const int64_t h_size = w_hh.size(1);
  AIOK_CHECK(x.dim() == 2 && x.size(0) == packed.positions() && x.size(1) == 3 * h_size &&
                 w_hh.size(0) == 3 * h_size && b_hh.numel() == 3 * h_size,
             ErrorKind::kInternal, "GRU: x {} w_hh {} b_hh {} for {} packed positions",
             c10::str(x.sizes()), c10::str(w_hh.sizes()), c10::str(b_hh.sizes()),
             packed.positions());
  AIOK_CHECK(!attention.defined() || attention.numel() == packed.positions(), ErrorKind::kInternal,
             "GRU: {} attention scores for {} positions", attention.numel(), packed.positions());
  auto fp32 = [](const torch::Tensor& t) {
    return t.defined() ? t.to(torch::kFloat32).contiguous() : t;
  };
  const bool augru = attention.defined();
  return GruFunction::apply(fp32(x), fp32(w_hh), fp32(b_hh),
                            augru ? fp32(attention) : torch::empty({0}), augru, &packed);
}

PackedGruImpl::PackedGruImpl(int64_t input, int64_t hidden) : input_(input), hidden_(hidden) {
  AIOK_CHECK(input >= 1 && hidden >= 1, ErrorKind::kConfig,
             "GRU: input and hidden sizes must be >= 1, got {} and {}", input, hidden);
  input_projection = register_module("input", FastLinear(input, 3 * hidden));
  w_hh = register_parameter("w_hh", torch::empty({3 * hidden, hidden}));
  b_hh = register_parameter("b_hh", torch::empty({3 * hidden}));
  reset();
}

void PackedGruImpl::reset() {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_));
  for (torch::Tensor* t : {&input_projection->weight, &input_projection->bias, &w_hh, &b_hh})
    t->uniform_(-bound, bound);
}

torch::Tensor PackedGruImpl::forward(const torch::Tensor& inputs, const PackedSequences& packed,
                                     const torch::Tensor& attention) {
  AIOK_CHECK(inputs.dim() == 2 && inputs.size(1) == input_ && inputs.size(0) == packed.positions(),
             ErrorKind::kInternal, "GRU: inputs {} for {} positions of width {}",
             c10::str(inputs.sizes()), packed.positions(), input_);
  return GruRecurrence(input_projection->forward(inputs), w_hh, b_hh, attention, packed);
}

}  // namespace aiok::models
