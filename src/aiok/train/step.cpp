#include "aiok/train/step.h"

#include "aiok/core/error.h"
#include "aiok/models/precision.h"
#include "aiok/train/loss.h"

namespace aiok::train {

TrainStep::TrainStep(models::Model& model, DenseOptimizer& dense, SparseOptimizer& sparse,
                     bool bf16)
    : model_(model), dense_(dense), sparse_(sparse), bf16_(bf16) {}

void TrainStep::SetLearningRates(double dense_lr, double sparse_lr) {
  dense_.SetLr(dense_lr);
  sparse_.SetLr(sparse_lr);
}

double TrainStep::ComputeGradients(const data::FeatureBatch& batch) {
  AIOK_CHECK(batch.labels != nullptr, ErrorKind::kInvalidInput,
             "train: a batch without labels cannot be trained on");
  torch::Tensor outputs;
  {
    models::Bf16Autocast autocast(bf16_);
    outputs = model_.Forward(batch);
  }
  const torch::Tensor labels =
      torch::from_blob(const_cast<float*>(batch.labels), {batch.rows}, torch::kFloat32);
  const torch::Tensor weights = batch.weights ? torch::from_blob(const_cast<float*>(batch.weights),
                                                                 {batch.rows}, torch::kFloat32)
                                              : torch::Tensor();
  const torch::Tensor loss = TaskLoss(model_.task(), outputs, labels, weights);
  // A model's own training loss (DIEN's auxiliary loss) joins the backward pass, weighted by
  // the model; the returned loss stays the task's, comparable across models.
  const torch::Tensor auxiliary = model_.AuxiliaryLoss();
  dense_.ZeroGrad();
  sparse_.ZeroGrad();
  (auxiliary.defined() ? loss + auxiliary : loss).backward();
  return loss.item<double>();
}

void TrainStep::ApplyGradients() {
  dense_.Step();
  sparse_.Step();
}

}  // namespace aiok::train
