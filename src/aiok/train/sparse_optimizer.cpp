#include "aiok/train/sparse_optimizer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "aiok/core/error.h"

namespace aiok::train {

const std::vector<std::string>& SparseUpdateNames() {
  static const std::vector<std::string> names = {"sgd", "adagrad", "rowwise-adagrad", "ftrl"};
  return names;
}

SparseUpdate ParseSparseUpdate(const std::string& name) {
  const auto& names = SparseUpdateNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name)
      return static_cast<SparseUpdate>(i);
  }
  Throw(ErrorKind::kConfig, "unknown embedding update '{}' (valid: {})", name,
        fmt::join(names, ", "));
}

SparseOptimizer::SparseOptimizer(std::vector<models::SparseParameterGroup*> groups,
                                 SparseUpdate update, double lr, double eps,
                                 double initial_accumulator)
    : groups_(std::move(groups)), lr_(lr), eps_(eps) {
  for (models::SparseParameterGroup* group : groups_) {
    GroupRule rule{update};
    if (const models::SparseUpdateRule* own = group->own_update()) {
      rule = {ParseSparseUpdate(own->update), true, own->lr, own->l1, own->l2, own->beta};
    }
    switch (rule.update) {
      case SparseUpdate::kSgd:
        state_.push_back(torch::empty({0}));
        break;
      case SparseUpdate::kAdagrad:
        state_.push_back(torch::full({group->rows(), group->dim()}, initial_accumulator));
        break;
      case SparseUpdate::kRowWiseAdagrad:
        state_.push_back(torch::full({group->rows()}, initial_accumulator));
        break;
      case SparseUpdate::kFtrl:
        state_.push_back(torch::zeros({group->rows(), 2 * group->dim()}));
        break;
    }
    rules_.push_back(rule);
  }
}

std::unique_ptr<SparseOptimizer> SparseOptimizer::Create(
    const OptimizerOptions& options, std::vector<models::SparseParameterGroup*> groups) {
  return std::make_unique<SparseOptimizer>(
      std::move(groups), ParseSparseUpdate(options.embedding_update), options.embedding_lr);
}

void SparseOptimizer::ZeroGrad() {
  for (models::SparseParameterGroup* group : groups_)
    group->gradient().Clear();
}

void SparseOptimizer::Step() {
  for (size_t i = 0; i < groups_.size(); ++i)
    StepGroup(*groups_[i], rules_[i], state_[i]);
}

void SparseOptimizer::StepGroup(models::SparseParameterGroup& group, const GroupRule& rule,
                                torch::Tensor& state) {
  const auto lr = static_cast<float>(rule.own ? rule.lr : lr_);
  const auto eps = static_cast<float>(eps_);
  const auto l1 = static_cast<float>(rule.l1);
  const auto l2 = static_cast<float>(rule.l2);
  const auto beta = static_cast<float>(rule.beta);
  models::SparseGradient& gradient = group.gradient();
  const int64_t dim = group.dim();
  AIOK_ASSERT(gradient.empty() || gradient.dim == dim);
  float* w = group.weight_data();
  float* s = state.numel() > 0 ? state.data_ptr<float>() : nullptr;
  const int64_t* ids = gradient.ids.data();
  const float* rows = gradient.rows.data();
  const SparseUpdate update = rule.update;
  // The ids are unique, so rows are updated side by side without conflicts.
  at::parallel_for(0, gradient.size(), 512, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      const int64_t r = ids[u];
      const float* g = rows + u * dim;
      float* wr = w + r * dim;
      switch (update) {
        case SparseUpdate::kSgd:
          for (int64_t j = 0; j < dim; ++j)
            wr[j] -= lr * g[j];
          break;
        case SparseUpdate::kAdagrad: {
          float* sr = s + r * dim;
          for (int64_t j = 0; j < dim; ++j) {
            sr[j] += g[j] * g[j];
            wr[j] -= lr * g[j] / (std::sqrt(sr[j]) + eps);
          }
          break;
        }
        case SparseUpdate::kRowWiseAdagrad: {
          float mean_square = 0.0f;
          for (int64_t j = 0; j < dim; ++j)
            mean_square += g[j] * g[j];
          s[r] += mean_square / static_cast<float>(dim);
          const float scale = lr / (std::sqrt(s[r]) + eps);
          for (int64_t j = 0; j < dim; ++j)
            wr[j] -= scale * g[j];
          break;
        }
        case SparseUpdate::kFtrl: {
          // McMahan et al. (2013), Algorithm 1, per coordinate: z accumulates the gradients
          // minus the proximal shift, n the squared gradients; the weight is z's closed-form
          // minimizer under L1 and L2.
          float* z = s + r * 2 * dim;
          float* n = z + dim;
          for (int64_t j = 0; j < dim; ++j) {
            const float n_new = n[j] + g[j] * g[j];
            const float sigma = (std::sqrt(n_new) - std::sqrt(n[j])) / lr;
            z[j] += g[j] - sigma * wr[j];
            n[j] = n_new;
            const float magnitude = std::fabs(z[j]);
            wr[j] = magnitude <= l1 ? 0.0f
                                    : -(z[j] - std::copysign(l1, z[j])) /
                                          ((beta + std::sqrt(n_new)) / lr + l2);
          }
          break;
        }
      }
    }
  });
  gradient.Clear();
}

void SparseOptimizer::Save(torch::serialize::OutputArchive& archive) const {
  for (size_t i = 0; i < groups_.size(); ++i)
    archive.write("sparse_state_" + groups_[i]->group_name(), state_[i]);
}

void SparseOptimizer::Load(torch::serialize::InputArchive& archive) {
  for (size_t i = 0; i < groups_.size(); ++i) {
    const std::string key = "sparse_state_" + groups_[i]->group_name();
    torch::Tensor loaded;
    try {
      archive.read(key, loaded);
    } catch (const c10::Error& e) {
      Throw(ErrorKind::kInvalidInput, "optimizer state: no '{}' ({})", key,
            e.what_without_backtrace());
    }
    AIOK_CHECK(loaded.sizes() == state_[i].sizes(), ErrorKind::kInvalidInput,
               "optimizer state '{}': shape {} does not fit the model's {}", key,
               c10::str(loaded.sizes()), c10::str(state_[i].sizes()));
    state_[i] = loaded.contiguous();
  }
}

}  // namespace aiok::train
