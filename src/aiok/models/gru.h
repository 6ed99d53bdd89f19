// GRU and AUGRU layers over variable-length sequences in packed form, as DIEN's interest
// extractor and interest evolution layers use them.
//
// Packed form: the batch's rows sorted by length (longest first), then laid out time-major with
// only the live positions: step t holds the first batch_sizes[t] rows, rank i of step t follows
// rank i of step t-1. No padding is ever computed. The input projections of all positions are
// one GEMM ([positions, 3H]); each step then runs only the recurrent GEMM of its live rows and
// one fused pass over the gates, written into buffers allocated once per call. Backward is
// written by hand in the same form (the recurrent weight's gradient is one GEMM at the end).
//
// Gates follow torch.nn.GRU (r, z, n; z keeps the old state):
//   r = sigmoid(x_r + h W_hr^T + b_hr)         z = sigmoid(x_z + h W_hz^T + b_hz)
//   n = tanh(x_n + r * (h W_hn^T + b_hn))      u = a * (1 - z)        h' = (1 - u) h + u n
// with a = 1 for a GRU. For an AUGRU, a is the position's attention score: the update gate of
// the DIEN paper, (1 - z) here, is scaled by it, so a behaviour the target ignores (a = 0)
// leaves the interest state unchanged.
//
// The recurrence runs in fp32 (under bf16 autocast too: the input projection is a FastLinear
// and follows autocast; the recurrent GEMMs are small and stay fp32 through oneDNN).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "aiok/models/fast_linear.h"

namespace aiok::models {

/// Where each step's rows sit in a packed batch of sequences.
struct PackedSequences {
  /// Rows alive at step t (lengths > t), non-increasing.
  std::vector<int64_t> batch_sizes;
  /// First packed position of step t; steps() + 1 entries, the last is positions().
  std::vector<int64_t> step_offsets = {0};

  int64_t steps() const { return static_cast<int64_t>(batch_sizes.size()); }
  int64_t positions() const { return step_offsets.back(); }
  /// From lengths sorted longest first.
  static PackedSequences FromSortedLengths(const std::vector<int64_t>& lengths);
};

/// The recurrence of a GRU (attention undefined) or AUGRU over packed positions:
/// x [positions, 3H] fp32 (x W_ih^T + b_ih of each position, gates r, z, n), w_hh [3H, H],
/// b_hh [3H], attention [positions] fp32 or undefined -> hidden states [positions, H] fp32.
/// Initial states are zero. Differentiable in x, w_hh, b_hh and attention.
torch::Tensor GruRecurrence(const torch::Tensor& x, const torch::Tensor& w_hh,
                            const torch::Tensor& b_hh, const torch::Tensor& attention,
                            const PackedSequences& packed);

/// The same recurrence's forward on plain arrays, for inference engines: x [positions, 3H],
/// w_hh [3H, H], b_hh [3H], attention [positions] or null (a GRU) -> h [positions, H]. gates
/// [positions, 3H] and candidate_hidden [positions, H] receive what backward needs, or are
/// null. Rows run side by side in blocks when the batch is large enough.
void GruRecurrenceForward(const float* x, const float* w_hh, const float* b_hh,
                          const float* attention, const PackedSequences& packed, int64_t h_size,
                          float* h, float* gates, float* candidate_hidden);

/// A GRU layer over packed sequences: the input projection (one GEMM for every position) and
/// the recurrence. Initialized as torch.nn.GRU: every weight uniform in +-1/sqrt(hidden).
class PackedGruImpl : public torch::nn::Module {
 public:
  PackedGruImpl(int64_t input, int64_t hidden);
  void reset();

  /// inputs [positions, input] in packed order -> states [positions, hidden] fp32. With
  /// `attention` [positions], an AUGRU.
  torch::Tensor forward(const torch::Tensor& inputs, const PackedSequences& packed,
                        const torch::Tensor& attention = {});

  int64_t input_size() const { return input_; }
  int64_t hidden_size() const { return hidden_; }

  FastLinear input_projection{nullptr};  ///< W_ih [3H, input], b_ih [3H]
  torch::Tensor w_hh;                    ///< [3H, H]
  torch::Tensor b_hh;                    ///< [3H]

 private:
  int64_t input_;
  int64_t hidden_;
};
TORCH_MODULE(PackedGru);

}  // namespace aiok::models
