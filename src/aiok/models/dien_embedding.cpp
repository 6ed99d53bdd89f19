#include "aiok/models/dien_embedding.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

// Keeps a lookup (its vectors; the batch it points into outlives the step) for backward.
struct LookupHolder : torch::CustomClassHolder {
  explicit LookupHolder(DienLookup l) : lookup(std::move(l)) {}
  DienLookup lookup;
};

class DienLookupFunction : public torch::autograd::Function<DienLookupFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                torch::Tensor trigger, DienEmbeddingImpl* module,
                                                DienLookup lookup) {
    auto holder = c10::make_intrusive<LookupHolder>(std::move(lookup));
    auto [columns, events] = module->Gather(holder->lookup);
    ctx->saved_data["module"] = reinterpret_cast<int64_t>(module);
    ctx->saved_data["lookup"] = c10::IValue::make_capsule(holder);
    return {columns, events};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* module = reinterpret_cast<DienEmbeddingImpl*>(ctx->saved_data["module"].toInt());
    const auto holder =
        c10::static_intrusive_pointer_cast<LookupHolder>(ctx->saved_data["lookup"].toCapsule());
    module->AccumulateGradient(holder->lookup, grads[0], grads[1]);
    return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

DienEmbeddingImpl::DienEmbeddingImpl(DienEmbeddingOptions options) : options_(std::move(options)) {
  AIOK_CHECK(!options_.table_sizes.empty(), ErrorKind::kConfig, "dien embedding: no tables");
  AIOK_CHECK(options_.dim >= 1, ErrorKind::kConfig, "dien embedding: dim must be >= 1, got {}",
             options_.dim);
  int64_t total = 0;
  for (int64_t size : options_.table_sizes) {
    AIOK_CHECK(size >= 1, ErrorKind::kConfig, "dien embedding: a table needs >= 1 row, got {}",
               size);
    offsets_.push_back(total);
    total += size;
  }
  trigger_ = torch::zeros({}, torch::requires_grad());
  gradient_.dim = options_.dim;
  second_.dim = options_.dim;
  weight = register_buffer("weight", torch::empty({total, options_.dim}));
  reset();
}

void DienEmbeddingImpl::reset() {
  torch::NoGradGuard no_grad;
  for (size_t t = 0; t < options_.table_sizes.size(); ++t) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.table_sizes[t]));
    weight.narrow(0, offsets_[t], options_.table_sizes[t]).uniform_(-bound, bound);
  }
  gradient_.Clear();
}

std::pair<torch::Tensor, torch::Tensor> DienEmbeddingImpl::forward(DienLookup lookup) {
  if (!torch::GradMode::is_enabled() || !is_training())
    return Gather(lookup);
  torch::autograd::variable_list out = DienLookupFunction::apply(trigger_, this, std::move(lookup));
  return {out[0], out[1]};
}

std::pair<torch::Tensor, torch::Tensor> DienEmbeddingImpl::Gather(const DienLookup& lookup) const {
  const int64_t d = options_.dim;
  const int64_t columns = lookup.columns();
  const auto sequences = static_cast<int64_t>(lookup.sequences.size());
  const auto tables = static_cast<int64_t>(options_.table_sizes.size());
  AIOK_ASSERT(static_cast<int64_t>(lookup.sequence_tables.size()) == sequences &&
              lookup.event_positions.size() == lookup.event_rows.size());
  for (int64_t t : lookup.column_tables)
    AIOK_ASSERT(t >= 0 && t < tables);
  for (int64_t t : lookup.sequence_tables)
    AIOK_ASSERT(t >= 0 && t < tables);
  torch::Tensor column_out = torch::empty({lookup.rows, columns, d});
  torch::Tensor event_out = torch::empty({lookup.events(), sequences, d});
  const float* w = weight.data_ptr<float>();
  auto row_of = [&](int64_t table, int64_t id, const char* kind, int64_t field) {
    AIOK_CHECK(id >= 0 && id < options_.table_sizes[table], ErrorKind::kInvalidInput,
               "dien: id {} of {} field {} is outside its table of {} rows", id, kind, field,
               options_.table_sizes[table]);
    return w + (offsets_[table] + id) * d;
  };
  float* co = column_out.data_ptr<float>();
  at::parallel_for(0, lookup.rows, 256, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      for (int64_t c = 0; c < columns; ++c) {
        const float* src =
            row_of(lookup.column_tables[c], lookup.ids[b * columns + c], "categorical", c);
        std::memcpy(co + (b * columns + c) * d, src, static_cast<size_t>(d) * sizeof(float));
      }
    }
  });
  float* eo = event_out.data_ptr<float>();
  at::parallel_for(0, lookup.events(), 256, [&](int64_t begin, int64_t end) {
    for (int64_t e = begin; e < end; ++e) {
      for (int64_t s = 0; s < sequences; ++s) {
        const data::JaggedIds& list = lookup.sequences[s];
        const int32_t id =
            list.values[list.offsets[lookup.event_rows[e]] + lookup.event_positions[e]];
        const float* src = row_of(lookup.sequence_tables[s], id, "sequence", s);
        std::memcpy(eo + (e * sequences + s) * d, src, static_cast<size_t>(d) * sizeof(float));
      }
    }
  });
  return {column_out, event_out};
}

void DienEmbeddingImpl::AccumulateGradient(const DienLookup& lookup,
                                           const torch::Tensor& grad_columns,
                                           const torch::Tensor& grad_events) {
  torch::NoGradGuard no_grad;
  const int64_t d = options_.dim;
  const auto sequences = static_cast<int64_t>(lookup.sequences.size());
  // An output that did not reach the loss has no gradient: zeros of its shape.
  auto dense = [&](const torch::Tensor& g, int64_t rows, int64_t width) {
    return g.defined() ? g.to(torch::kFloat32).contiguous() : torch::zeros({rows, width, d});
  };
  const torch::Tensor gc = dense(grad_columns, lookup.rows, lookup.columns());
  const torch::Tensor ge = dense(grad_events, lookup.events(), sequences);
  AIOK_ASSERT(gc.numel() == lookup.rows * lookup.columns() * d &&
              ge.numel() == lookup.events() * sequences * d);
  if (gradient_.empty()) {
    Coalesce(lookup, gc.data_ptr<float>(), ge.data_ptr<float>(), &gradient_);
    return;
  }
  second_.Clear();
  Coalesce(lookup, gc.data_ptr<float>(), ge.data_ptr<float>(), &second_);
  gradient_.Add(second_);
}

void DienEmbeddingImpl::Coalesce(const DienLookup& lookup, const float* grad_columns,
                                 const float* grad_events, SparseGradient* out) {
  const int64_t d = options_.dim;
  const auto tables = static_cast<int64_t>(options_.table_sizes.size());
  const int64_t columns = lookup.columns();
  const auto sequences = static_cast<int64_t>(lookup.sequences.size());
  // Per table: the gradient rows of its lookups, and sort keys (id << 32 | lookup number), so
  // that a row's gradients are summed in lookup order.
  std::vector<std::vector<const float*>> sources(static_cast<size_t>(tables));
  std::vector<std::vector<uint64_t>> keys(static_cast<size_t>(tables));
  std::vector<int64_t> unique(static_cast<size_t>(tables), 0);
  at::parallel_for(0, tables, 1, [&](int64_t table_begin, int64_t table_end) {
    for (int64_t t = table_begin; t < table_end; ++t) {
      std::vector<const float*>& src = sources[static_cast<size_t>(t)];
      std::vector<uint64_t>& key = keys[static_cast<size_t>(t)];
      auto add = [&](int64_t id, const float* grad) {
        key.push_back((static_cast<uint64_t>(id) << 32) | static_cast<uint64_t>(src.size()));
        src.push_back(grad);
      };
      for (int64_t b = 0; b < lookup.rows; ++b) {
        for (int64_t c = 0; c < columns; ++c) {
          if (lookup.column_tables[c] == t)
            add(lookup.ids[b * columns + c], grad_columns + (b * columns + c) * d);
        }
      }
      for (int64_t s = 0; s < sequences; ++s) {
        if (lookup.sequence_tables[s] != t)
          continue;
        const data::JaggedIds& list = lookup.sequences[s];
        for (int64_t e = 0; e < lookup.events(); ++e) {
          add(list.values[list.offsets[lookup.event_rows[e]] + lookup.event_positions[e]],
              grad_events + (e * sequences + s) * d);
        }
      }
      AIOK_ASSERT(src.size() < (size_t{1} << 32));
      std::sort(key.begin(), key.end());
      int64_t count = 0;
      for (size_t k = 0; k < key.size(); ++k)
        count += k == 0 || (key[k] >> 32) != (key[k - 1] >> 32);
      unique[static_cast<size_t>(t)] = count;
    }
  });
  std::vector<int64_t> start(static_cast<size_t>(tables) + 1, 0);
  for (int64_t t = 0; t < tables; ++t)
    start[t + 1] = start[t] + unique[t];
  out->dim = d;
  out->ids.resize(static_cast<size_t>(start.back()));
  out->rows.resize(static_cast<size_t>(start.back() * d));
  // Tables own disjoint rows in offset order: the ids come out unique and ascending.
  at::parallel_for(0, tables, 1, [&](int64_t table_begin, int64_t table_end) {
    for (int64_t t = table_begin; t < table_end; ++t) {
      const std::vector<uint64_t>& key = keys[static_cast<size_t>(t)];
      const std::vector<const float*>& src = sources[static_cast<size_t>(t)];
      int64_t u = start[t];
      const auto n = static_cast<int64_t>(key.size());
      for (int64_t k = 0; k < n; ++u) {
        const uint64_t id = key[k] >> 32;
        out->ids[u] = offsets_[t] + static_cast<int64_t>(id);
        float* sum = out->rows.data() + u * d;
        std::fill(sum, sum + d, 0.0f);
        for (; k < n && (key[k] >> 32) == id; ++k) {
          const float* g = src[key[k] & 0xffffffffu];
          for (int64_t j = 0; j < d; ++j)
            sum[j] += g[j];
        }
      }
    }
  });
}

}  // namespace aiok::models
