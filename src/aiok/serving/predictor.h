// Scoring raw rows with a model bundle: the bundle's fitted ETL pipeline turns parsed rows into
// features, the model — rebuilt through the model registry from the bundle's model name and
// architecture — scores them with its inference engine. Torch-free header (pimpl), so the HTTP
// layer and the CLI do not compile against libtorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aiok/data/criteo_reader.h"
#include "aiok/data/feature_batch.h"
#include "aiok/serving/bundle.h"

namespace aiok::serving {

class Predictor {
 public:
  /// Builds the pipeline and the model from `bundle`. `precision`: fp32 (the trainer's own
  /// evaluation, exactly), bf16, or auto (bf16 where the CPU has it natively).
  Predictor(const Bundle& bundle, const std::string& precision);
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  /// Probabilities of the batch's rows, in order, into `out` [batch.rows]. Runs the model in
  /// chunks of at most `max_batch` rows. Safe to call from several threads at once.
  void Predict(const data::CriteoBatch& batch, float* out, int64_t max_batch = 16384) const;
  /// The features of the batch's rows: dense [rows x dense] and ids [rows x categorical].
  void Transform(const data::CriteoBatch& batch, float* dense, int32_t* ids) const;
  /// Probabilities of rows that are already features: dense [rows x dense] and
  /// ids [rows x categorical], row-major (the dataset shard layout).
  void PredictFeatures(const float* dense, const int32_t* ids, int64_t rows, float* out) const;
  /// Predictions (probabilities, or values for regression) of a batch of features in the
  /// layout the model was trained on, into out [batch.rows].
  void Predict(const data::FeatureBatch& batch, float* out) const;

  int dense_columns() const;
  int categorical_columns() const;
  /// The precision the model runs in: "fp32" or "bf16".
  const std::string& precision() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aiok::serving
