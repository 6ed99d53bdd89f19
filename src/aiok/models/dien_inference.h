// DIEN inference without libtorch's per-op overhead: the same computation as DienImpl's
// forward in evaluation mode on plain arrays — packed sequences (models/gru.h), the input
// projections and MLP layers as oneDNN GEMMs, the GRU and AUGRU steps through the training
// kernel's forward (GruRecurrenceForward), attention, softmax, Dice with running statistics and
// PReLU written out. For `aiok predict`, `aiok serve` and the trainer's evaluation.
// Torch-free header.
#pragma once

#include <cstdint>
#include <memory>

#include "aiok/models/model.h"

namespace aiok::models {

class DienImpl;

class DienInference final : public InferenceEngine {
 public:
  /// Copies `model`'s dense weights; the embedding tables are shared with the model, which
  /// must outlive this. Computes in fp32 (`bf16` is accepted and ignored: the GEMMs here are
  /// narrow, and bf16 did not pay for them on CPUs with AVX512-BF16).
  DienInference(DienImpl& model, bool bf16);
  ~DienInference() override;
  DienInference(const DienInference&) = delete;
  DienInference& operator=(const DienInference&) = delete;

  /// Click probabilities (binary task) or values (regression) of the batch's rows. Safe to
  /// call from several threads at once.
  void Predict(const data::FeatureBatch& batch, float* out) const override;

 private:
  // Rows [begin, begin + rows) of the batch, rows <= kInferenceChunkRows.
  void PredictChunk(const data::FeatureBatch& batch, int64_t begin, int64_t rows, float* out) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiok::models
