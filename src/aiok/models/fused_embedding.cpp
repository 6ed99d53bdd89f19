#include "aiok/models/fused_embedding.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

// Connects a lookup to its gradient: forward gathers rows, backward hands the output gradient
// to the module, which coalesces it by row.
class FusedLookup : public torch::autograd::Function<FusedLookup> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor trigger,
                               torch::Tensor ids, FusedEmbeddingImpl* module,
                               const std::vector<data::JaggedIds>* lists) {
    ctx->save_for_backward({ids});
    ctx->saved_data["module"] = reinterpret_cast<int64_t>(module);
    // The lists are views into the batch, which outlives the step (see forward's contract).
    std::vector<int64_t> pointers;
    for (const data::JaggedIds& list : *lists) {
      pointers.push_back(reinterpret_cast<int64_t>(list.offsets));
      pointers.push_back(reinterpret_cast<int64_t>(list.values));
    }
    ctx->saved_data["lists"] = pointers;
    return module->Gather(ids, *lists);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* module = reinterpret_cast<FusedEmbeddingImpl*>(ctx->saved_data["module"].toInt());
    const std::vector<int64_t> pointers = ctx->saved_data["lists"].toIntVector();
    std::vector<data::JaggedIds> lists;
    for (size_t i = 0; i < pointers.size(); i += 2) {
      lists.push_back({reinterpret_cast<const int64_t*>(pointers[i]),
                       reinterpret_cast<const int32_t*>(pointers[i + 1])});
    }
    module->AccumulateGradient(ctx->get_saved_variables()[0], lists, grads[0]);
    return {torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

FusedEmbeddingImpl::FusedEmbeddingImpl(FusedEmbeddingOptions options)
    : options_(std::move(options)) {
  AIOK_CHECK(!options_.table_sizes.empty(), ErrorKind::kConfig, "embedding: no tables");
  AIOK_CHECK(options_.dim >= 1, ErrorKind::kConfig, "embedding: dim must be >= 1, got {}",
             options_.dim);
  AIOK_CHECK(options_.list_fields() <= options_.fields(), ErrorKind::kConfig,
             "embedding: {} list fields but only {} tables", options_.list_fields(),
             options_.fields());
  int64_t total = 0;
  for (int64_t size : options_.table_sizes) {
    AIOK_CHECK(size >= 1, ErrorKind::kConfig, "embedding: a table needs >= 1 row, got {}", size);
    offsets_.push_back(total);
    total += size;
  }
  offsets_tensor_ = torch::tensor(
      std::vector<int64_t>(offsets_.begin(), offsets_.begin() + options_.single_fields()),
      torch::kInt64);
  weight = register_buffer("weight", torch::empty({total, options_.dim}));
  trigger_ = torch::zeros({}, torch::requires_grad());
  gradient_.dim = options_.dim;
  second_.dim = options_.dim;
  reset();
}

void FusedEmbeddingImpl::reset() {
  torch::NoGradGuard no_grad;
  gradient_.Clear();
  if (options_.zero_init) {
    weight.zero_();
    return;
  }
  for (size_t t = 0; t < options_.table_sizes.size(); ++t) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.table_sizes[t]));
    weight.narrow(0, offsets_[t], options_.table_sizes[t]).uniform_(-bound, bound);
  }
  gradient_.Clear();
}

torch::Tensor FusedEmbeddingImpl::forward(const torch::Tensor& ids,
                                          const std::vector<data::JaggedIds>& lists) {
  AIOK_CHECK(ids.dim() == 2 && ids.size(1) == options_.single_fields(), ErrorKind::kInvalidInput,
             "embedding: ids must be [batch, {}], got {}", options_.single_fields(),
             c10::str(ids.sizes()));
  AIOK_CHECK(static_cast<int64_t>(lists.size()) == options_.list_fields(), ErrorKind::kInvalidInput,
             "embedding: expected {} list fields, got {}", options_.list_fields(), lists.size());
  if (!torch::GradMode::is_enabled() || !is_training())
    return Gather(ids, lists);
  return FusedLookup::apply(trigger_, ids, this, &lists);
}

torch::Tensor FusedEmbeddingImpl::Gather(const torch::Tensor& ids,
                                         const std::vector<data::JaggedIds>& lists) const {
  torch::NoGradGuard no_grad;
  const int64_t batch = ids.size(0);
  const int64_t dim = options_.dim;
  if (lists.empty()) {
    const torch::Tensor rows = (ids.to(torch::kInt64) + offsets_tensor_).reshape({-1});
    return weight.index_select(0, rows).view({batch, ids.size(1), dim});
  }
  const int64_t fields = options_.fields();
  const int64_t singles = options_.single_fields();
  const torch::Tensor id64 = ids.to(torch::kInt64).contiguous();
  const int64_t* id = id64.data_ptr<int64_t>();
  torch::Tensor out = torch::empty({batch, fields, dim});
  float* o = out.data_ptr<float>();
  const float* w = weight.data_ptr<float>();
  at::parallel_for(0, batch, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      for (int64_t t = 0; t < singles; ++t) {
        const int64_t row = id[b * singles + t];
        AIOK_CHECK(row >= 0 && row < options_.table_sizes[t], ErrorKind::kInvalidInput,
                   "embedding: id {} of field {} is outside its table of {} rows", row, t,
                   options_.table_sizes[t]);
        std::memcpy(o + (b * fields + t) * dim, w + (offsets_[t] + row) * dim,
                    static_cast<size_t>(dim) * sizeof(float));
      }
      for (int64_t j = 0; j < options_.list_fields(); ++j) {
        const int64_t t = singles + j;
        float* dst = o + (b * fields + t) * dim;
        std::fill(dst, dst + dim, 0.0f);
        const data::JaggedIds& list = lists[static_cast<size_t>(j)];
        for (int64_t p = list.offsets[b]; p < list.offsets[b + 1]; ++p) {
          const int64_t row = list.values[p];
          AIOK_CHECK(row >= 0 && row < options_.table_sizes[t], ErrorKind::kInvalidInput,
                     "embedding: id {} of list field {} is outside its table of {} rows", row, j,
                     options_.table_sizes[t]);
          const float* src = w + (offsets_[t] + row) * dim;
          for (int64_t k = 0; k < dim; ++k)
            dst[k] += src[k];
        }
        const int64_t length = list.length(b);
        if (options_.list_pooling[static_cast<size_t>(j)] == Pooling::kMean && length > 0) {
          const float scale = 1.0f / static_cast<float>(length);
          for (int64_t k = 0; k < dim; ++k)
            dst[k] *= scale;
        }
      }
    }
  });
  return out;
}

void FusedEmbeddingImpl::AccumulateGradient(const torch::Tensor& ids,
                                            const std::vector<data::JaggedIds>& lists,
                                            const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  if (gradient_.empty()) {
    Coalesce(ids, lists, grad, &gradient_);
    return;
  }
  second_.Clear();
  Coalesce(ids, lists, grad, &second_);
  gradient_.Add(second_);
}

void FusedEmbeddingImpl::Coalesce(const torch::Tensor& ids,
                                  const std::vector<data::JaggedIds>& lists,
                                  const torch::Tensor& grad, SparseGradient* out) {
  const int64_t dim = options_.dim;
  const int64_t fields = options_.fields();
  const int64_t singles = options_.single_fields();
  const torch::Tensor id64 = ids.to(torch::kInt64).contiguous();
  const torch::Tensor g = grad.to(torch::kFloat32).contiguous();
  AIOK_ASSERT(g.numel() == ids.size(0) * fields * dim);
  const int64_t batch = id64.size(0);
  const int64_t* id = id64.data_ptr<int64_t>();
  const float* gp = g.data_ptr<float>();
  keys_.resize(static_cast<size_t>(fields));
  key_rows_.resize(static_cast<size_t>(fields));
  std::vector<int64_t> unique(static_cast<size_t>(fields), 0);
  // Pass 1, tables side by side: each table's lookups sorted by one 64-bit key (id, then
  // position), so that a row's gradients are summed in position order, and counted.
  at::parallel_for(0, fields, 1, [&](int64_t table_begin, int64_t table_end) {
    for (int64_t t = table_begin; t < table_end; ++t) {
      std::vector<uint64_t>& keys = keys_[static_cast<size_t>(t)];
      if (t < singles) {
        keys.resize(static_cast<size_t>(batch));
        for (int64_t b = 0; b < batch; ++b)
          keys[b] = (static_cast<uint64_t>(id[b * singles + t]) << 32) | static_cast<uint64_t>(b);
      } else {
        const data::JaggedIds& list = lists[static_cast<size_t>(t - singles)];
        const int64_t base = list.offsets[0];
        const int64_t n = list.offsets[batch] - base;
        AIOK_ASSERT(n < (int64_t{1} << 32));
        keys.resize(static_cast<size_t>(n));
        std::vector<int32_t>& rows = key_rows_[static_cast<size_t>(t)];
        rows.resize(static_cast<size_t>(n));
        for (int64_t b = 0; b < batch; ++b) {
          for (int64_t p = list.offsets[b]; p < list.offsets[b + 1]; ++p) {
            keys[p - base] =
                (static_cast<uint64_t>(list.values[p]) << 32) | static_cast<uint64_t>(p - base);
            rows[p - base] = static_cast<int32_t>(b);
          }
        }
      }
      std::sort(keys.begin(), keys.end());
      int64_t count = 0;
      for (size_t k = 0; k < keys.size(); ++k)
        count += k == 0 || (keys[k] >> 32) != (keys[k - 1] >> 32);
      unique[static_cast<size_t>(t)] = count;
    }
  });
  std::vector<int64_t> start(static_cast<size_t>(fields) + 1, 0);
  for (int64_t t = 0; t < fields; ++t)
    start[t + 1] = start[t] + unique[t];
  out->dim = dim;
  out->ids.resize(static_cast<size_t>(start.back()));
  out->rows.resize(static_cast<size_t>(start.back() * dim));
  // Pass 2: each unique row's summed gradient, straight into its place. Tables own disjoint
  // rows and come in offset order, so the ids end up unique and ascending.
  at::parallel_for(0, fields, 1, [&](int64_t table_begin, int64_t table_end) {
    for (int64_t t = table_begin; t < table_end; ++t) {
      const std::vector<uint64_t>& keys = keys_[static_cast<size_t>(t)];
      const bool is_list = t >= singles;
      const data::JaggedIds* list = is_list ? &lists[static_cast<size_t>(t - singles)] : nullptr;
      const bool mean =
          is_list && options_.list_pooling[static_cast<size_t>(t - singles)] == Pooling::kMean;
      const int32_t* rows = is_list ? key_rows_[static_cast<size_t>(t)].data() : nullptr;
      int64_t u = start[t];
      const auto n = static_cast<int64_t>(keys.size());
      for (int64_t k = 0; k < n; ++u) {
        const uint64_t row_id = keys[k] >> 32;
        out->ids[u] = offsets_[static_cast<size_t>(t)] + static_cast<int64_t>(row_id);
        float* sum = out->rows.data() + u * dim;
        std::fill(sum, sum + dim, 0.0f);
        for (; k < n && (keys[k] >> 32) == row_id; ++k) {
          const auto position = static_cast<int64_t>(keys[k] & 0xffffffffu);
          const int64_t b = is_list ? rows[position] : position;
          const float* src = gp + (b * fields + t) * dim;
          if (mean) {
            const float scale = 1.0f / static_cast<float>(list->length(b));
            for (int64_t j = 0; j < dim; ++j)
              sum[j] += src[j] * scale;
          } else {
            for (int64_t j = 0; j < dim; ++j)
              sum[j] += src[j];
          }
        }
      }
    }
  });
}

}  // namespace aiok::models
