// One training step, split at the point where data-parallel ranks will exchange gradients:
// ComputeGradients runs forward, the task's loss and backward — dense gradients end in the
// parameters' .grad, the embeddings' in the model's sparse groups as (unique ids, summed rows)
// — and ApplyGradients lets both optimizers update. Nothing is applied inside backward.
#pragma once

#include "aiok/data/feature_batch.h"
#include "aiok/models/model.h"
#include "aiok/train/optimizer.h"
#include "aiok/train/sparse_optimizer.h"

namespace aiok::train {

class TrainStep {
 public:
  /// `bf16`: forward under bf16 autocast. Everything passed must outlive this.
  TrainStep(models::Model& model, DenseOptimizer& dense, SparseOptimizer& sparse, bool bf16);

  /// The learning rates of the next step.
  void SetLearningRates(double dense_lr, double sparse_lr);
  /// Forward, loss and backward on `batch` (which must stay alive until ApplyGradients).
  /// Returns the loss.
  double ComputeGradients(const data::FeatureBatch& batch);
  /// Applies the gradients ComputeGradients left and clears them.
  void ApplyGradients();

 private:
  models::Model& model_;
  DenseOptimizer& dense_;
  SparseOptimizer& sparse_;
  bool bf16_;
};

}  // namespace aiok::train
