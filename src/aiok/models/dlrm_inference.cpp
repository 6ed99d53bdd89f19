#include "aiok/models/dlrm_inference.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/models/dlrm.h"
#include "aiok/models/dot_interaction.h"
#include "aiok/models/dot_product.h"
#include "aiok/models/fast_linear.h"

namespace aiok::models {
namespace {

using dt = dnnl::memory::data_type;

// One fully connected layer: y = relu?(x W^T + b).
struct Layer {
  int64_t in = 0;
  int64_t out = 0;
  bool relu = false;
  dt weight_type = dt::f32;
  std::vector<uint16_t> weight_bf16;  // [out x in], when bf16
  std::vector<float> weight_f32;      // [out x in], when fp32
  std::vector<float> bias;
};

std::vector<Layer> Layers(torch::nn::Sequential& mlp, bool bf16) {
  std::vector<Layer> layers;
  for (const auto& child : mlp->children()) {
    if (auto* linear = child->as<FastLinearImpl>()) {
      Layer layer;
      const torch::Tensor w = linear->weight.detach().contiguous();
      layer.out = w.size(0);
      layer.in = w.size(1);
      layer.bias.assign(linear->bias.data_ptr<float>(),
                        linear->bias.data_ptr<float>() + layer.out);
      if (bf16) {
        layer.weight_type = dt::bf16;
        const torch::Tensor wb = w.to(torch::kBFloat16).contiguous();
        const auto* raw = reinterpret_cast<const uint16_t*>(wb.data_ptr<at::BFloat16>());
        layer.weight_bf16.assign(raw, raw + wb.numel());
      } else {
        layer.weight_f32.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
      }
      layers.push_back(std::move(layer));
    } else if (child->as<torch::nn::ReLUImpl>()) {
      AIOK_CHECK(!layers.empty(), ErrorKind::kInternal, "dlrm inference: ReLU before a layer");
      layers.back().relu = true;
    } else {
      Throw(ErrorKind::kInternal, "dlrm inference: unexpected module {}", child->name());
    }
  }
  return layers;
}

// A cached matmul for one layer and batch size, with its memory descriptors and the layer's
// weights reordered once into the layout the primitive chose (a plain layout would make
// oneDNN repack the weights on every call).
struct Matmul {
  dnnl::memory::desc src, bias, dst, scratchpad;
  dnnl::memory weights;
  dnnl::matmul primitive;
};

uint16_t ToBf16(float value) {  // round to nearest even, as torch does
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  if (std::isnan(value))
    return 0x7fc0;
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

float FromBf16(uint16_t value) {
  const uint32_t bits = static_cast<uint32_t>(value) << 16;
  float out = 0.0f;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

}  // namespace

struct DlrmInference::Impl {
  Impl(DlrmImpl& model, bool use_bf16)
      : bf16(use_bf16),
        options(model.options()),
        bottom(Layers(model.bottom(), use_bf16)),
        top(Layers(model.top(), use_bf16)),
        table(model.embedding()->weight.detach()),
        offsets(model.embedding()->offsets()),
        engine(dnnl::engine::kind::cpu, 0) {
    AIOK_CHECK(table.is_contiguous() && table.scalar_type() == torch::kFloat32,
               ErrorKind::kInternal, "dlrm inference: the embedding table must be fp32");
    pairs = InteractionPairs(1 + static_cast<int64_t>(offsets.size()),
                             options.interaction == Interaction::kDotWithSelf);
  }

  // The layer's matmul for `rows` rows; the top MLP's last layer writes fp32 (the logit).
  const Matmul& MatmulFor(size_t layer_index, bool is_top, int64_t rows) const {
    const Layer& layer = is_top ? top[layer_index] : bottom[layer_index];
    const int64_t key = (rows << 8) | (static_cast<int64_t>(is_top) << 7) |
                        static_cast<int64_t>(layer_index);
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto& slot = cache[key];
    if (!slot) {
      auto m = std::make_unique<Matmul>();
      const dt act = bf16 ? dt::bf16 : dt::f32;
      const bool logit = is_top && layer_index + 1 == top.size();
      m->src = dnnl::memory::desc({rows, layer.in}, act, dnnl::memory::dims{layer.in, 1});
      // W is [out x in] row-major: as the [in x out] weights of x W^T it is column-major.
      const dnnl::memory::desc plain_weights({layer.in, layer.out}, layer.weight_type,
                                             dnnl::memory::dims{1, layer.in});
      const dnnl::memory::desc any_weights({layer.in, layer.out}, layer.weight_type,
                                           dnnl::memory::format_tag::any);
      m->bias = dnnl::memory::desc({1, layer.out}, dt::f32, dnnl::memory::dims{layer.out, 1});
      m->dst = dnnl::memory::desc({rows, layer.out}, logit ? dt::f32 : act,
                                  dnnl::memory::dims{layer.out, 1});
      dnnl::primitive_attr attr;
      // Each call brings its own scratchpad: the library's default one is shared by all
      // primitives, and predict scores batches from several threads at once.
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      if (layer.relu) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        attr.set_post_ops(ops);
      }
      try {
        const dnnl::matmul::desc desc(m->src, any_weights, m->bias, m->dst);
        const dnnl::matmul::primitive_desc pd(desc, attr, engine);
        m->primitive = dnnl::matmul(pd);
        m->scratchpad = pd.scratchpad_desc();
        m->weights = dnnl::memory(pd.weights_desc(), engine);
        const void* weights = layer.weight_type == dt::bf16
                                  ? static_cast<const void*>(layer.weight_bf16.data())
                                  : static_cast<const void*>(layer.weight_f32.data());
        dnnl::memory plain(plain_weights, engine, const_cast<void*>(weights));
        dnnl::stream stream(engine);
        dnnl::reorder(plain, m->weights).execute(stream, plain, m->weights);
        stream.wait();
      } catch (const dnnl::error& e) {
        Throw(ErrorKind::kInternal, "dlrm inference: oneDNN matmul {}x{}x{}: {}", rows, layer.in,
              layer.out, e.what());
      }
      slot = std::move(m);
    }
    return *slot;
  }

  // Runs `layers` from `input` ([rows x in], activation type); the last layer writes to
  // `final_out` (or scratch when null). Returns where the output is.
  void* RunMlp(const std::vector<Layer>& layers, bool is_top, int64_t rows, void* input,
              std::vector<char>* scratch_a, std::vector<char>* scratch_b, void* final_out) const {
    void* src = input;
    dnnl::stream stream(engine);
    // Per thread and reused: allocating (and zeroing) it per call cost 10% of predict.
    thread_local std::vector<char> scratchpad;
    for (size_t i = 0; i < layers.size(); ++i) {
      const Layer& layer = layers[i];
      const Matmul& m = MatmulFor(i, is_top, rows);
      void* dst = final_out;
      if (i + 1 < layers.size() || final_out == nullptr) {
        std::vector<char>* buffer = (i % 2 == 0) ? scratch_a : scratch_b;
        buffer->resize(m.dst.get_size());
        dst = buffer->data();
      }
      if (scratchpad.size() < m.scratchpad.get_size())
        scratchpad.resize(m.scratchpad.get_size());
      m.primitive.execute(
          stream, {{DNNL_ARG_SRC, dnnl::memory(m.src, engine, src)},
                   {DNNL_ARG_SCRATCHPAD, dnnl::memory(m.scratchpad, engine, scratchpad.data())},
                   {DNNL_ARG_WEIGHTS, m.weights},
                   {DNNL_ARG_BIAS, dnnl::memory(m.bias, engine, const_cast<float*>(layer.bias.data()))},
                   {DNNL_ARG_DST, dnnl::memory(m.dst, engine, dst)}});
      src = dst;
    }
    stream.wait();
    return src;
  }

  bool bf16;
  DlrmOptions options;
  std::vector<Layer> bottom;
  std::vector<Layer> top;
  torch::Tensor table;
  std::vector<int64_t> offsets;
  std::vector<std::pair<int32_t, int32_t>> pairs;  // the interaction's (i, j), in torch's order
  dnnl::engine engine;
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<int64_t, std::unique_ptr<Matmul>> cache;
};

DlrmInference::DlrmInference(DlrmImpl& model, bool bf16)
    : impl_(std::make_unique<Impl>(model, bf16)) {}

DlrmInference::~DlrmInference() = default;

void DlrmInference::Predict(const float* dense, const int32_t* ids, int64_t rows,
                            float* out) const {
  // oneDNN primitives are compiled for one shape: rows are scored in chunks padded to a few
  // sizes, so that batches of any size reuse a handful of primitives instead of compiling
  // one per batch.
  constexpr int64_t kChunk = 4096;
  const int64_t n_dense = impl_->options.dense_features;
  const auto tables = static_cast<int64_t>(impl_->offsets.size());
  std::vector<float> padded_dense;
  std::vector<int32_t> padded_ids;
  std::vector<float> padded_out;
  for (int64_t begin = 0; begin < rows; begin += kChunk) {
    const int64_t n = std::min(kChunk, rows - begin);
    const int64_t step = n <= 64 ? 8 : (n <= 512 ? 64 : 256);
    const int64_t padded = (n + step - 1) / step * step;
    const float* chunk_dense = dense + begin * n_dense;
    const int32_t* chunk_ids = ids + begin * tables;
    float* chunk_out = out + begin;
    if (padded != n) {
      padded_dense.assign(static_cast<size_t>(padded * n_dense), 0.0f);
      padded_ids.assign(static_cast<size_t>(padded * tables), 0);  // id 0 exists in every table
      padded_out.resize(static_cast<size_t>(padded));
      std::copy(chunk_dense, chunk_dense + n * n_dense, padded_dense.begin());
      std::copy(chunk_ids, chunk_ids + n * tables, padded_ids.begin());
      PredictChunk(padded_dense.data(), padded_ids.data(), padded, padded_out.data());
      std::copy(padded_out.begin(), padded_out.begin() + n, chunk_out);
    } else {
      PredictChunk(chunk_dense, chunk_ids, n, chunk_out);
    }
  }
}

void DlrmInference::PredictChunk(const float* dense, const int32_t* ids, int64_t rows,
                                 float* out) const {
  const Impl& m = *impl_;
  const int64_t n_dense = m.options.dense_features;
  const int64_t d = m.options.embedding_dim;
  const auto tables = static_cast<int64_t>(m.offsets.size());
  const size_t act_bytes = m.bf16 ? 2 : 4;

  // Bottom MLP on the dense features.
  std::vector<char> input(static_cast<size_t>(rows * n_dense) * act_bytes);
  if (m.bf16) {
    auto* x = reinterpret_cast<uint16_t*>(input.data());
    for (int64_t i = 0; i < rows * n_dense; ++i)
      x[i] = ToBf16(dense[i]);
  } else {
    std::memcpy(input.data(), dense, static_cast<size_t>(rows * n_dense) * sizeof(float));
  }
  std::vector<char> scratch_a;
  std::vector<char> scratch_b;
  const void* bottom_out =
      m.RunMlp(m.bottom, false, rows, input.data(), &scratch_a, &scratch_b, nullptr);

  // The interaction, row by row, in fp32: [bottom, pairwise dots] (or the concatenation).
  const int64_t width = m.options.InteractionWidth();
  std::vector<char> top_in(static_cast<size_t>(rows * width) * act_bytes);
  const float* table = m.table.data_ptr<float>();
  // Rows in parallel (the two halves of a chunk on two cores); each row's embedding rows are
  // prefetched a few rows ahead: they are random reads from tables far larger than the cache,
  // and waiting for them one by one took most of the interaction's time.
  constexpr int64_t kPrefetchRows = 4;
  at::parallel_for(0, rows, 64, [&](int64_t row_begin, int64_t row_end) {
    std::vector<const float*> vectors(static_cast<size_t>(tables + 1));
    std::vector<float> bottom_row(static_cast<size_t>(d));
    std::vector<float> row_out(static_cast<size_t>(width));
    for (int64_t r = row_begin; r < row_end; ++r) {
      if (r + kPrefetchRows < row_end) {
        const int32_t* ahead = ids + (r + kPrefetchRows) * tables;
        for (int64_t t = 0; t < tables; ++t)
          __builtin_prefetch(table + (m.offsets[t] + ahead[t]) * d);
      }
      for (int64_t j = 0; j < d; ++j) {
        bottom_row[j] = m.bf16 ? FromBf16(static_cast<const uint16_t*>(bottom_out)[r * d + j])
                               : static_cast<const float*>(bottom_out)[r * d + j];
      }
      vectors[0] = bottom_row.data();
      for (int64_t t = 0; t < tables; ++t)
        vectors[t + 1] = table + (m.offsets[t] + ids[r * tables + t]) * d;
      std::copy(bottom_row.begin(), bottom_row.end(), row_out.begin());
      if (m.options.interaction == Interaction::kCat) {
        for (int64_t t = 0; t < tables; ++t)
          std::copy(vectors[t + 1], vectors[t + 1] + d, row_out.begin() + (t + 1) * d);
      } else {
        float* pair_out = row_out.data() + d;
        for (const auto& [i, j] : m.pairs)
          *pair_out++ = Dot(vectors[i], vectors[j], d);
      }
      if (m.bf16) {
        auto* dst = reinterpret_cast<uint16_t*>(top_in.data()) + r * width;
        for (int64_t k = 0; k < width; ++k)
          dst[k] = ToBf16(row_out[k]);
      } else {
        std::copy(row_out.begin(), row_out.end(),
                  reinterpret_cast<float*>(top_in.data()) + r * width);
      }
    }
  });

  // Top MLP to one logit per row, then the sigmoid.
  std::vector<float> logits(static_cast<size_t>(rows));
  m.RunMlp(m.top, true, rows, top_in.data(), &scratch_a, &scratch_b, logits.data());
  for (int64_t r = 0; r < rows; ++r)
    out[r] = 1.0f / (1.0f + std::exp(-logits[r]));
}

}  // namespace aiok::models
