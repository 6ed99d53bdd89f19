// Dense optimizers for the MLP parameters (embeddings update themselves, see
// models/fused_embedding.h): SGD, Adagrad, Adam, AdamW from libtorch, and LAMB for large
// batches. One interface so the trainer can swap them, change the learning rate per step
// (schedules) and checkpoint their state.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "aiok/core/options.h"

namespace aiok::train {

struct OptimizerOptions {
  std::string name = "adagrad";
  double lr = 0.02;
  double weight_decay = 0.0;
  double momentum = 0.0;  ///< sgd
  double beta1 = 0.9;     ///< adam, adamw, lamb
  double beta2 = 0.999;   ///< adam, adamw, lamb
  double eps = 1e-8;      ///< adam, adamw, lamb (adagrad uses 1e-10 as torch does)

  template <typename V>
  void Visit(V& v) {
    v.Text("optimizer", &name, {"sgd", "adagrad", "adam", "adamw", "lamb"},
           "optimizer of the dense (MLP) parameters");
    v.Real("lr", &lr, 0.0, 100.0, "peak learning rate");
    v.Real("weight-decay", &weight_decay, 0.0, 1.0, "L2 (sgd, adagrad, adam) or decoupled decay");
    v.Real("momentum", &momentum, 0.0, 0.999, "sgd momentum");
    v.Real("beta1", &beta1, 0.0, 0.99999, "first-moment decay");
    v.Real("beta2", &beta2, 0.0, 0.99999999, "second-moment decay");
    v.Real("eps", &eps, 0.0, 1.0, "denominator epsilon");
  }
};

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
