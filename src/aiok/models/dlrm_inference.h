// DLRM inference without libtorch's per-op overhead: the MLPs run as oneDNN matmul
// primitives with bias and ReLU fused into each GEMM (bf16 or fp32), the embedding rows are
// read in place from the table, and the dot interaction is computed row by row in fp32.
// For `aiok predict` and `aiok serve`, where a batch is scored once and no gradient is needed.
// Torch-free header: the model is passed in by reference and its weights copied at build time.
#pragma once

#include <cstdint>
#include <memory>

namespace aiok::models {

class DlrmImpl;

class DlrmInference {
 public:
  /// Copies `model`'s weights (rounded to bf16 for the GEMMs when `bf16`). The embedding
  /// table is shared with the model, which must outlive this.
  DlrmInference(DlrmImpl& model, bool bf16);
  ~DlrmInference();
  DlrmInference(const DlrmInference&) = delete;
  DlrmInference& operator=(const DlrmInference&) = delete;

  /// Click probabilities of `rows` rows: dense [rows x dense] and ids [rows x tables],
  /// row-major, into out [rows]. Safe to call from several threads at once.
  void Predict(const float* dense, const int32_t* ids, int64_t rows, float* out) const;

 private:
  void PredictChunk(const float* dense, const int32_t* ids, int64_t rows, float* out) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiok::models
