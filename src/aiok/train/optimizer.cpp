#include "aiok/train/optimizer.h"

#include <cmath>

#include "aiok/core/error.h"

namespace aiok::train {
namespace {

// A libtorch optimizer behind the DenseOptimizer interface.
template <typename TorchOptimizer, typename TorchOptions>
class TorchDenseOptimizer final : public DenseOptimizer {
 public:
  TorchDenseOptimizer(std::vector<torch::Tensor> params, TorchOptions options)
      : optimizer_(std::move(params), options) {}
  void Step() override { optimizer_.step(); }
  void ZeroGrad() override { optimizer_.zero_grad(); }
  void SetLr(double lr) override {
    for (auto& group : optimizer_.param_groups()) {
      static_cast<TorchOptions&>(group.options()).lr(lr);
    }
  }
  void Save(torch::serialize::OutputArchive& archive) const override { optimizer_.save(archive); }
  void Load(torch::serialize::InputArchive& archive) override { optimizer_.load(archive); }

 private:
  TorchOptimizer optimizer_;
};

}  // namespace

std::unique_ptr<DenseOptimizer> DenseOptimizer::Create(const OptimizerOptions& o,
                                                       std::vector<torch::Tensor> params) {
  ValidateOptions(o, "optimizer");
  if (o.name == "sgd") {
    return std::make_unique<TorchDenseOptimizer<torch::optim::SGD, torch::optim::SGDOptions>>(
        std::move(params),
        torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  }
  if (o.name == "adagrad") {
    return std::make_unique<
        TorchDenseOptimizer<torch::optim::Adagrad, torch::optim::AdagradOptions>>(
        std::move(params), torch::optim::AdagradOptions(o.lr).weight_decay(o.weight_decay));
  }
  if (o.name == "adam" || o.name == "adamw") {
    if (o.name == "adam") {
      return std::make_unique<TorchDenseOptimizer<torch::optim::Adam, torch::optim::AdamOptions>>(
          std::move(params), torch::optim::AdamOptions(o.lr)
                                 .betas({o.beta1, o.beta2})
                                 .eps(o.eps)
                                 .weight_decay(o.weight_decay));
    }
    return std::make_unique<TorchDenseOptimizer<torch::optim::AdamW, torch::optim::AdamWOptions>>(
        std::move(params), torch::optim::AdamWOptions(o.lr)
                               .betas({o.beta1, o.beta2})
                               .eps(o.eps)
                               .weight_decay(o.weight_decay));
  }
  AIOK_ASSERT(o.name == "lamb");
  return std::make_unique<Lamb>(std::move(params), o.lr, o.beta1, o.beta2, o.eps, o.weight_decay);
}

Lamb::Lamb(std::vector<torch::Tensor> params, double lr, double beta1, double beta2, double eps,
           double weight_decay)
    : params_(std::move(params)),
      lr_(lr),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      weight_decay_(weight_decay) {
  for (const auto& p : params_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void Lamb::Step() {
  torch::NoGradGuard no_grad;
  ++step_;
  const double correction1 = 1.0 - std::pow(beta1_, static_cast<double>(step_));
  const double correction2 = 1.0 - std::pow(beta2_, static_cast<double>(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    if (!p.grad().defined())
      continue;
    const torch::Tensor g = p.grad();
    m_[i].mul_(beta1_).add_(g, 1.0 - beta1_);
    v_[i].mul_(beta2_).addcmul_(g, g, 1.0 - beta2_);
    torch::Tensor update = (m_[i] / correction1) / ((v_[i] / correction2).sqrt() + eps_);
    if (weight_decay_ != 0.0)
      update.add_(p, weight_decay_);
    const double w_norm = p.norm().item<double>();
    const double u_norm = update.norm().item<double>();
    const double trust = (w_norm > 0.0 && u_norm > 0.0) ? w_norm / u_norm : 1.0;
    p.add_(update, -lr_ * trust);
  }
}

void Lamb::ZeroGrad() {
  for (auto& p : params_) {
    if (p.grad().defined())
      p.mutable_grad().zero_();
  }
}

void Lamb::Save(torch::serialize::OutputArchive& archive) const {
  archive.write("lamb_step", torch::tensor(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    archive.write("lamb_m_" + std::to_string(i), m_[i]);
    archive.write("lamb_v_" + std::to_string(i), v_[i]);
  }
}

void Lamb::Load(torch::serialize::InputArchive& archive) {
  torch::Tensor step;
  archive.read("lamb_step", step);
  step_ = step.item<int64_t>();
  for (size_t i = 0; i < params_.size(); ++i) {
    archive.read("lamb_m_" + std::to_string(i), m_[i]);
    archive.read("lamb_v_" + std::to_string(i), v_[i]);
  }
}

}  // namespace aiok::train
