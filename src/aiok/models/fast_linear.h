// A fully connected layer whose fp32 GEMMs (forward and both backward products) call oneDNN's
// sgemm directly. On this machine the environment pins OpenBLAS — libtorch's BLAS — to its
// Haswell (AVX2) kernels; oneDNN picks AVX-512 ones: 2.3–5.7x the GEMM throughput for DLRM's
// layer shapes (bench note in docs/BENCHMARKS.md). Under bf16 autocast it defers to
// torch::linear, so autocast still takes it to bf16.
#pragma once

#include <torch/torch.h>

namespace aiok::models {

class FastLinearImpl : public torch::nn::Module {
 public:
  FastLinearImpl(int64_t in_features, int64_t out_features);

  /// Initializes as the DLRM reference: weight N(0, sqrt(2/(in+out))), bias N(0, sqrt(1/out)).
  void reset();

  /// x [batch, in] -> [batch, out].
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  ///< [out, in]
  torch::Tensor bias;    ///< [out]

 private:
  int64_t in_features_;
  int64_t out_features_;
};
TORCH_MODULE(FastLinear);

/// C = alpha * op(A) * op(B) + beta * C on row-major float matrices, through oneDNN.
/// op(A) is M x K, op(B) is K x N, C is M x N.
void Sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);

}  // namespace aiok::models
