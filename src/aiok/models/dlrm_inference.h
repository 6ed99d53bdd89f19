// DLRM inference without libtorch's per-op overhead: the MLPs run on MlpInference (oneDNN
// matmuls with bias and ReLU fused, bf16 or fp32), the embedding rows are read in place from
// the table (list fields pooled per row), and the interaction is computed row by row in fp32.
// For `aiok predict`, `aiok serve` and the trainer's evaluation, where a batch is scored once
// and no gradient is needed. Torch-free header: the model is passed in by reference and its
// MLP weights copied at build time.
#pragma once

#include <cstdint>
#include <memory>

#include "aiok/models/model.h"

namespace aiok::models {

class DlrmImpl;

class DlrmInference final : public InferenceEngine {
 public:
  /// Copies `model`'s MLP weights (rounded to bf16 for the GEMMs when `bf16`). The embedding
  /// table is shared with the model, which must outlive this.
  DlrmInference(DlrmImpl& model, bool bf16);
  ~DlrmInference() override;
  DlrmInference(const DlrmInference&) = delete;
  DlrmInference& operator=(const DlrmInference&) = delete;

  /// Click probabilities (binary task) or values (regression) of the batch's rows.
  void Predict(const data::FeatureBatch& batch, float* out) const override;

 private:
  // Rows [begin, begin + rows) of the batch, rows <= kInferenceChunkRows.
  void PredictChunk(const data::FeatureBatch& batch, int64_t begin, int64_t rows, float* out) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiok::models
