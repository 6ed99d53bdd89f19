#include "aiok/models/gru.h"

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

// Rows of a step handed to one task: enough work per task to pay for the handoff.
int64_t RowGrain(int64_t hidden) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, hidden)); }

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
    const int64_t widest = packed->steps() > 0 ? packed->batch_sizes[0] : 0;
    std::vector<float> recurrent(static_cast<size_t>(widest * g_size));

    const float* xp = x.data_ptr<float>();
    const float* w = w_hh.data_ptr<float>();
    const float* b = b_hh.data_ptr<float>();
    const float* att = augru ? attention.data_ptr<float>() : nullptr;
    float* hp = h.data_ptr<float>();
    float* gp = gates.data_ptr<float>();
    float* cp = candidate_hidden.data_ptr<float>();
    float* rec = recurrent.data();
    for (int64_t t = 0; t < packed->steps(); ++t) {
      const int64_t rows = packed->batch_sizes[t];
      const int64_t at_pos = packed->step_offsets[t];
      const float* previous = t > 0 ? hp + packed->step_offsets[t - 1] * h_size : nullptr;
      // rec = b_hh + h_prev W_hh^T (the initial state is zero: only the bias).
      for (int64_t i = 0; i < rows; ++i)
        std::copy(b, b + g_size, rec + i * g_size);
      if (previous != nullptr) {
        Sgemm(false, true, rows, g_size, h_size, 1.0f, previous, h_size, w, h_size, 1.0f, rec,
              g_size);
      }
      at::parallel_for(0, rows, RowGrain(h_size), [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const int64_t p = at_pos + i;
          const float* xi = xp + p * g_size;
          const float* ri = rec + i * g_size;
          const float* h_old = previous != nullptr ? previous + i * h_size : nullptr;
          float* g = gp + p * g_size;
          float* c = cp + p * h_size;
          float* h_new = hp + p * h_size;
          const float a = att != nullptr ? att[p] : 1.0f;
          for (int64_t j = 0; j < h_size; ++j) {
            const float r = Sigmoid(xi[j] + ri[j]);
            const float z = Sigmoid(xi[h_size + j] + ri[h_size + j]);
            const float n = Tanh(xi[2 * h_size + j] + r * ri[2 * h_size + j]);
            const float old = h_old != nullptr ? h_old[j] : 0.0f;
            const float u = a * (1.0f - z);
            g[j] = r;
            g[h_size + j] = z;
            g[2 * h_size + j] = n;
            c[j] = ri[2 * h_size + j];
            h_new[j] = old + u * (n - old);
          }
        }
      });
    }
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
    std::vector<int64_t> batch_sizes = ctx->saved_data["batch_sizes"].toIntVector();
    std::vector<int64_t> offsets(batch_sizes.size() + 1, 0);
    for (size_t t = 0; t < batch_sizes.size(); ++t)
      offsets[t + 1] = offsets[t] + batch_sizes[t];
    const auto steps = static_cast<int64_t>(batch_sizes.size());

    const int64_t n_pos = h.size(0);
    const int64_t h_size = w_hh.size(1);
    const int64_t g_size = 3 * h_size;
    const torch::Tensor dh_out = grads[0].to(torch::kFloat32).contiguous();
    torch::Tensor dx = torch::empty({n_pos, g_size});
    // The gradient of each position's recurrent pre-activations (rec in forward).
    torch::Tensor drec = torch::empty({n_pos, g_size});
    const bool has_attention = ctx->saved_data["augru"].toBool();
    torch::Tensor datt = has_attention ? torch::empty({n_pos}) : torch::Tensor();
    const int64_t widest = steps > 0 ? batch_sizes[0] : 0;
    // The gradient reaching each row's state from the next step.
    std::vector<float> carry(static_cast<size_t>(widest * h_size), 0.0f);

    const float* dout = dh_out.data_ptr<float>();
    const float* w = w_hh.data_ptr<float>();
    const float* att = has_attention ? attention.data_ptr<float>() : nullptr;
    const float* hp = h.data_ptr<float>();
    const float* gp = gates.data_ptr<float>();
    const float* cp = candidate_hidden.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    float* drp = drec.data_ptr<float>();
    float* dap = has_attention ? datt.data_ptr<float>() : nullptr;
    float* cy = carry.data();
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t rows = batch_sizes[t];
      const int64_t at_pos = offsets[t];
      const float* previous = t > 0 ? hp + offsets[t - 1] * h_size : nullptr;
      // Rows beyond the next step's were never written: their carry is still zero.
      at::parallel_for(0, rows, RowGrain(h_size), [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const int64_t p = at_pos + i;
          const float* g = gp + p * g_size;
          const float* c = cp + p * h_size;
          const float* h_old = previous != nullptr ? previous + i * h_size : nullptr;
          const float* d_out = dout + p * h_size;
          float* d_carry = cy + i * h_size;
          float* d_x = dxp + p * g_size;
          float* d_rec = drp + p * g_size;
          const float a = att != nullptr ? att[p] : 1.0f;
          float d_a = 0.0f;
          for (int64_t j = 0; j < h_size; ++j) {
            const float r = g[j];
            const float z = g[h_size + j];
            const float n = g[2 * h_size + j];
            const float old = h_old != nullptr ? h_old[j] : 0.0f;
            const float dh = d_out[j] + d_carry[j];
            const float u = a * (1.0f - z);
            const float du = dh * (n - old);  // h' = old + u (n - old)
            d_a += du * (1.0f - z);
            const float dn_pre = dh * u * (1.0f - n * n);
            const float dr_pre = dn_pre * c[j] * r * (1.0f - r);
            const float dz_pre = -a * du * z * (1.0f - z);
            d_x[j] = dr_pre;
            d_x[h_size + j] = dz_pre;
            d_x[2 * h_size + j] = dn_pre;
            d_rec[j] = dr_pre;
            d_rec[h_size + j] = dz_pre;
            d_rec[2 * h_size + j] = dn_pre * r;
            d_carry[j] = dh * (1.0f - u);
          }
          if (dap != nullptr)
            dap[p] = d_a;
        }
      });
      // carry += drec W_hh: the recurrent GEMM's share of the previous state's gradient.
      if (previous != nullptr) {
        Sgemm(false, false, rows, h_size, g_size, 1.0f, drp + at_pos * g_size, g_size, w, h_size,
              1.0f, cy, h_size);
      }
    }

    torch::Tensor dw;
    torch::Tensor db;
    if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
      db = drec.sum(0);
      // dW_hh = sum over steps t >= 1 of drec_t^T h_{t-1}: one GEMM over the previous states
      // gathered in packed order (step 0's previous state is zero and is left out).
      dw = torch::zeros({g_size, h_size});
      const int64_t first = steps > 0 ? batch_sizes[0] : 0;
      const int64_t later = n_pos - first;
      if (later > 0) {
        std::vector<float> previous_states(static_cast<size_t>(later * h_size));
        for (int64_t t = 1; t < steps; ++t) {
          std::memcpy(previous_states.data() + (offsets[t] - first) * h_size,
                      hp + offsets[t - 1] * h_size,
                      static_cast<size_t>(batch_sizes[t] * h_size) * sizeof(float));
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
  AIOK_CHECK(!attention.defined() || attention.numel() == packed.positions(),
             ErrorKind::kInternal, "GRU: {} attention scores for {} positions", attention.numel(),
             packed.positions());
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
  for (torch::Tensor* t :
       {&input_projection->weight, &input_projection->bias, &w_hh, &b_hh})
    t->uniform_(-bound, bound);
}

torch::Tensor PackedGruImpl::forward(const torch::Tensor& inputs, const PackedSequences& packed,
                                     const torch::Tensor& attention) {
  AIOK_CHECK(inputs.dim() == 2 && inputs.size(1) == input_ &&
                 inputs.size(0) == packed.positions(),
             ErrorKind::kInternal, "GRU: inputs {} for {} positions of width {}",
             c10::str(inputs.sizes()), packed.positions(), input_);
  return GruRecurrence(input_projection->forward(inputs), w_hh, b_hh, attention, packed);
}

}  // namespace aiok::models
