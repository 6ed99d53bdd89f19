// The training loss of a task: binary -> binary cross-entropy on logits; regression -> squared
// error. Per-row sample weights, when the dataset has them, weigh each row's loss.
#pragma once

#include <torch/torch.h>

#include "aiok/data/feature_batch.h"

namespace aiok::train {

/// Mean loss of outputs [rows] (logits, or values for regression) against labels [rows];
/// `weights` [rows] or undefined (every row weighs 1).
torch::Tensor TaskLoss(data::Task task, const torch::Tensor& outputs, const torch::Tensor& labels,
                       const torch::Tensor& weights);

}  // namespace aiok::train
