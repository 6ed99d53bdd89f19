#include "aiok/train/loss.h"

namespace aiok::train {

torch::Tensor TaskLoss(data::Task task, const torch::Tensor& outputs, const torch::Tensor& labels,
                       const torch::Tensor& weights) {
  const torch::Tensor y = outputs.to(torch::kFloat32);
  if (task == data::Task::kBinary) {
    return weights.defined() ? torch::binary_cross_entropy_with_logits(y, labels, weights)
                             : torch::binary_cross_entropy_with_logits(y, labels);
  }
  const torch::Tensor squared = (y - labels).square();
  return weights.defined() ? (squared * weights).mean() : squared.mean();
}

}  // namespace aiok::train
