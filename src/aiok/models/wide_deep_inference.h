// Wide&Deep inference without libtorch's per-op overhead: the deep MLP runs on MlpInference
// (oneDNN matmuls, bf16 or fp32), embedding rows and wide weights are read in place from the
// tables, and the wide sum is taken row by row in fp32. For `aiok predict`, `aiok serve` and
// the trainer's evaluation. Torch-free header.
#pragma once

#include <cstdint>
#include <memory>

#include "aiok/models/model.h"

namespace aiok::models {

class WideDeepImpl;

class WideDeepInference final : public InferenceEngine {
 public:
  /// Copies the MLP weights (rounded to bf16 when `bf16`); the tables are shared with the
  /// model, which must outlive this.
  WideDeepInference(WideDeepImpl& model, bool bf16);
  ~WideDeepInference() override;
  WideDeepInference(const WideDeepInference&) = delete;
  WideDeepInference& operator=(const WideDeepInference&) = delete;

  void Predict(const data::FeatureBatch& batch, float* out) const override;

 private:
  void PredictChunk(const data::FeatureBatch& batch, int64_t begin, int64_t rows, float* out) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiok::models
