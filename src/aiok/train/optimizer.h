// Dense optimizers for the MLP parameters: SGD, Adagrad, Adam, AdamW from libtorch, and LAMB
// for large batches. One interface so the trainer can swap them, change the learning rate per
// step (schedules) and checkpoint their state. The embedding tables have their own sparse
// optimizer (sparse_optimizer.h); both are configured in optimizer_options.h.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "aiok/train/optimizer_options.h"

namespace aiok::train {

class DenseOptimizer {
 public:
  /// Makes the optimizer `options.name` over `params`.
  static std::unique_ptr<DenseOptimizer> Create(const OptimizerOptions& options,
                                                std::vector<torch::Tensor> params);
  virtual ~DenseOptimizer() = default;

  /// One update from the parameters' gradients.
  virtual void Step() = 0;
  /// Sets every parameter's gradient to zero (or none).
  virtual void ZeroGrad() = 0;
  /// The learning rate of the next steps.
  virtual void SetLr(double lr) = 0;
  virtual void Save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void Load(torch::serialize::InputArchive& archive) = 0;
};

/// LAMB (You et al., 2019): Adam's update, decoupled weight decay, scaled per parameter tensor
/// by the trust ratio ||w|| / ||update|| (1 when either norm is 0).
class Lamb final : public DenseOptimizer {
 public:
  Lamb(std::vector<torch::Tensor> params, double lr, double beta1, double beta2, double eps,
       double weight_decay);
  void Step() override;
  void ZeroGrad() override;
  void SetLr(double lr) override { lr_ = lr; }
  void Save(torch::serialize::OutputArchive& archive) const override;
  void Load(torch::serialize::InputArchive& archive) override;

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> m_;
  std::vector<torch::Tensor> v_;
  int64_t step_ = 0;
  double lr_, beta1_, beta2_, eps_, weight_decay_;
};

}  // namespace aiok::train
