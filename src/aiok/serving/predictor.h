// The model of a bundle, for scoring: rebuilt through the model registry from the bundle's
// model name and architecture, it scores FeatureBatches with its inference engine (raw rows
// become features through serving_pipeline.h). Torch-free header (pimpl), so the HTTP layer
// and the CLI do not compile against libtorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aiok/data/feature_batch.h"
#include "aiok/serving/bundle.h"

namespace aiok::serving {

class Predictor {
 public:
  /// Builds the model from `bundle` and loads its weights. `precision`: fp32 (the trainer's own
  /// evaluation, exactly), bf16, or auto (bf16 where the CPU has it natively).
  Predictor(const Bundle& bundle, const std::string& precision);
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  /// Predictions (probabilities, or values for regression) of a batch of features in the
  /// layout the model was trained on, into out [batch.rows]. Safe to call from several
  /// threads at once.
  void Predict(const data::FeatureBatch& batch, float* out) const;

  /// The precision the model runs in: "fp32" or "bf16".
  const std::string& precision() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiok::serving
