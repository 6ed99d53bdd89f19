// A stack of fully connected layers for inference, without libtorch's per-op overhead: each
// layer is a oneDNN matmul with bias and ReLU fused into the GEMM (bf16 or fp32), weights
// reordered once into the layout the primitive chose, and a scratchpad per thread. The MLPs of
// DLRM's engine run on it; Wide&Deep's and DIEN's engines are meant to as well.
// Torch-free: layers are handed over as plain arrays (models/mlp.h takes them from a module).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace aiok::models {

/// One layer: y = relu?(x W^T + b).
struct MlpLayer {
  int64_t in = 0;
  int64_t out = 0;
  bool relu = false;
  std::vector<float> weight;  ///< [out x in], row-major (torch's Linear layout)
  std::vector<float> bias;    ///< [out]
};

/// bf16 <-> fp32 as torch rounds (to nearest even; NaN stays NaN).
uint16_t ToBf16(float value);
float FromBf16(uint16_t value);

class MlpInference {
 public:
  /// `bf16`: weights, inputs and activations in bf16 (accumulation in fp32); else fp32.
  /// `fp32_output`: the last layer writes fp32 even in bf16 (a logit, say).
  MlpInference(std::vector<MlpLayer> layers, bool bf16, bool fp32_output);
  ~MlpInference();
  MlpInference(const MlpInference&) = delete;
  MlpInference& operator=(const MlpInference&) = delete;

  int64_t in() const;
  int64_t out() const;
  bool bf16() const { return bf16_; }
  /// Bytes per input value (2 in bf16, else 4) and per output value.
  int64_t input_bytes() const { return bf16_ ? 2 : 4; }
  int64_t output_bytes() const { return bf16_ && !fp32_output_ ? 2 : 4; }

  /// Runs the layers on `rows` rows: input [rows x in()] and output [rows x out()], row-major,
  /// in the types above. A primitive is compiled per row count and cached, so callers should
  /// use a few row counts (pad). Safe to call from several threads at once.
  void Run(int64_t rows, const void* input, void* output) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool bf16_;
  bool fp32_output_;
};

/// Rows scored per engine call, and the padded row count for `rows` (<= kChunk) that keeps the
/// number of compiled primitives small: multiples of 8 up to 64, of 64 up to 512, then of 256.
constexpr int64_t kInferenceChunkRows = 4096;
int64_t PaddedInferenceRows(int64_t rows);

}  // namespace aiok::models
