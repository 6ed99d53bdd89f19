#include "aiok/models/fused_embedding.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

// Connects a lookup to its in-place update: forward gathers rows, backward hands the output
// gradient to the module.
class FusedLookup : public torch::autograd::Function<FusedLookup> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor trigger,
                               torch::Tensor ids, FusedEmbeddingImpl* module) {
    ctx->save_for_backward({ids});
    ctx->saved_data["module"] = reinterpret_cast<int64_t>(module);
    return module->Gather(ids);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* module = reinterpret_cast<FusedEmbeddingImpl*>(ctx->saved_data["module"].toInt());
    module->ApplyGradient(ctx->get_saved_variables()[0], grads[0]);
    return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

SparseUpdate ParseSparseUpdate(const std::string& name) {
  if (name == "sgd")
    return SparseUpdate::kSgd;
  if (name == "adagrad")
    return SparseUpdate::kAdagrad;
  if (name == "rowwise-adagrad")
    return SparseUpdate::kRowWiseAdagrad;
  Throw(ErrorKind::kConfig, "unknown embedding update '{}' (valid: sgd, adagrad, rowwise-adagrad)",
        name);
}

FusedEmbeddingImpl::FusedEmbeddingImpl(FusedEmbeddingOptions options)
    : options_(std::move(options)) {
  AIOK_CHECK(!options_.table_sizes.empty(), ErrorKind::kConfig, "embedding: no tables");
  AIOK_CHECK(options_.dim >= 1, ErrorKind::kConfig, "embedding: dim must be >= 1, got {}",
             options_.dim);
  int64_t total = 0;
  for (int64_t size : options_.table_sizes) {
    AIOK_CHECK(size >= 1, ErrorKind::kConfig, "embedding: a table needs >= 1 row, got {}", size);
    offsets_.push_back(total);
    total += size;
  }
  offsets_tensor_ = torch::tensor(offsets_, torch::kInt64);
  weight = register_buffer("weight", torch::empty({total, options_.dim}));
  switch (options_.update) {
    case SparseUpdate::kSgd:
      state = register_buffer("state", torch::empty({0}));
      break;
    case SparseUpdate::kAdagrad:
      state = register_buffer("state", torch::empty({total, options_.dim}));
      break;
    case SparseUpdate::kRowWiseAdagrad:
      state = register_buffer("state", torch::empty({total}));
      break;
  }
  trigger_ = torch::zeros({}, torch::requires_grad());
  reset();
}

void FusedEmbeddingImpl::reset() {
  torch::NoGradGuard no_grad;
  for (size_t t = 0; t < options_.table_sizes.size(); ++t) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.table_sizes[t]));
    weight.narrow(0, offsets_[t], options_.table_sizes[t]).uniform_(-bound, bound);
  }
  if (state.numel() > 0)
    state.fill_(options_.initial_accumulator);
}

torch::Tensor FusedEmbeddingImpl::forward(const torch::Tensor& ids) {
  AIOK_CHECK(ids.dim() == 2 && ids.size(1) == static_cast<int64_t>(offsets_.size()),
             ErrorKind::kInvalidInput, "embedding: ids must be [batch, {}], got {}",
             offsets_.size(), c10::str(ids.sizes()));
  if (!torch::GradMode::is_enabled() || !is_training())
    return Gather(ids);
  return FusedLookup::apply(trigger_, ids, this);
}

torch::Tensor FusedEmbeddingImpl::Gather(const torch::Tensor& ids) const {
  torch::NoGradGuard no_grad;
  const torch::Tensor rows = (ids.to(torch::kInt64) + offsets_tensor_).reshape({-1});
  return weight.index_select(0, rows).view({ids.size(0), ids.size(1), options_.dim});
}

void FusedEmbeddingImpl::ApplyGradient(const torch::Tensor& ids, const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  const int64_t dim = options_.dim;
  const int64_t tables = static_cast<int64_t>(offsets_.size());
  const torch::Tensor id64 = ids.to(torch::kInt64).contiguous();
  const torch::Tensor g = grad.to(torch::kFloat32).contiguous().view({-1, dim});
  const int64_t batch = id64.size(0);
  const int64_t* id = id64.data_ptr<int64_t>();
  float* w = weight.data_ptr<float>();
  float* s = state.numel() > 0 ? state.data_ptr<float>() : nullptr;
  const float* gp = g.data_ptr<float>();
  const auto lr = static_cast<float>(options_.lr);
  const auto eps = static_cast<float>(options_.eps);
  const SparseUpdate update = options_.update;
  // Tables own disjoint weight rows, so they are updated side by side. Within a table, the
  // batch's lookups are sorted by id (one 64-bit key: id, then position) so that duplicate
  // ids are summed first and each row is updated once, as torch's coalesced sparse gradient.
  at::parallel_for(0, tables, 1, [&](int64_t table_begin, int64_t table_end) {
    std::vector<uint64_t> keys(static_cast<size_t>(batch));
    std::vector<float> sum(static_cast<size_t>(dim));
    for (int64_t t = table_begin; t < table_end; ++t) {
      for (int64_t b = 0; b < batch; ++b)
        keys[b] = (static_cast<uint64_t>(id[b * tables + t]) << 32) | static_cast<uint64_t>(b);
      std::sort(keys.begin(), keys.end());
      for (int64_t k = 0; k < batch;) {
        const uint64_t row_id = keys[k] >> 32;
        std::fill(sum.begin(), sum.end(), 0.0f);
        for (; k < batch && (keys[k] >> 32) == row_id; ++k) {
          const int64_t b = static_cast<int64_t>(keys[k] & 0xffffffffu);
          const float* src = gp + (b * tables + t) * dim;
          for (int64_t j = 0; j < dim; ++j)
            sum[j] += src[j];
        }
        const int64_t r = offsets_[static_cast<size_t>(t)] + static_cast<int64_t>(row_id);
        float* wr = w + r * dim;
        switch (update) {
          case SparseUpdate::kSgd:
            for (int64_t j = 0; j < dim; ++j)
              wr[j] -= lr * sum[j];
            break;
          case SparseUpdate::kAdagrad: {
            float* sr = s + r * dim;
            for (int64_t j = 0; j < dim; ++j) {
              sr[j] += sum[j] * sum[j];
              wr[j] -= lr * sum[j] / (std::sqrt(sr[j]) + eps);
            }
            break;
          }
          case SparseUpdate::kRowWiseAdagrad: {
            float mean_square = 0.0f;
            for (int64_t j = 0; j < dim; ++j)
              mean_square += sum[j] * sum[j];
            s[r] += mean_square / static_cast<float>(dim);
            const float scale = lr / (std::sqrt(s[r]) + eps);
            for (int64_t j = 0; j < dim; ++j)
              wr[j] -= scale * sum[j];
            break;
          }
        }
      }
    }
  });
}

}  // namespace aiok::models
