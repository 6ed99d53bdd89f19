#include "aiok/models/mlp_inference.h"

#include <cmath>
#include <cstring>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

using dt = dnnl::memory::data_type;

// A cached matmul for one layer and row count, with its memory descriptors and the layer's
// weights reordered once into the layout the primitive chose (a plain layout would make
// oneDNN repack the weights on every call).
struct Matmul {
  dnnl::memory::desc src, bias, dst, scratchpad;
  dnnl::memory weights;
  dnnl::matmul primitive;
};

}  // namespace

uint16_t ToBf16(float value) {
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

int64_t PaddedInferenceRows(int64_t rows) {
  const int64_t step = rows <= 64 ? 8 : (rows <= 512 ? 64 : 256);
  return (rows + step - 1) / step * step;
}

struct MlpInference::Impl {
  std::vector<MlpLayer> layers;
  std::vector<std::vector<uint16_t>> weights_bf16;  // per layer, when bf16
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<int64_t, std::unique_ptr<Matmul>> cache;

  const Matmul& MatmulFor(size_t index, int64_t rows, bool bf16, bool fp32_output) const {
    const MlpLayer& layer = layers[index];
    const int64_t key = (rows << 8) | static_cast<int64_t>(index);
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto& slot = cache[key];
    if (slot)
      return *slot;
    auto m = std::make_unique<Matmul>();
    const dt act = bf16 ? dt::bf16 : dt::f32;
    const dt weight_type = bf16 ? dt::bf16 : dt::f32;
    const bool last = index + 1 == layers.size();
    m->src = dnnl::memory::desc({rows, layer.in}, act, dnnl::memory::dims{layer.in, 1});
    // W is [out x in] row-major: as the [in x out] weights of x W^T it is column-major.
    const dnnl::memory::desc plain_weights({layer.in, layer.out}, weight_type,
                                           dnnl::memory::dims{1, layer.in});
    const dnnl::memory::desc any_weights({layer.in, layer.out}, weight_type,
                                         dnnl::memory::format_tag::any);
    m->bias = dnnl::memory::desc({1, layer.out}, dt::f32, dnnl::memory::dims{layer.out, 1});
    m->dst = dnnl::memory::desc({rows, layer.out}, (last && fp32_output) ? dt::f32 : act,
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
      const void* weights = bf16 ? static_cast<const void*>(weights_bf16[index].data())
                                 : static_cast<const void*>(layer.weight.data());
      dnnl::memory plain(plain_weights, engine, const_cast<void*>(weights));
      dnnl::stream stream(engine);
      dnnl::reorder(plain, m->weights).execute(stream, plain, m->weights);
      stream.wait();
    } catch (const dnnl::error& e) {
      Throw(ErrorKind::kInternal, "MLP inference: oneDNN matmul {}x{}x{}: {}", rows, layer.in,
            layer.out, e.what());
    }
    slot = std::move(m);
    return *slot;
  }
};

MlpInference::MlpInference(std::vector<MlpLayer> layers, bool bf16, bool fp32_output)
    : impl_(std::make_unique<Impl>()), bf16_(bf16), fp32_output_(fp32_output) {
  AIOK_CHECK(!layers.empty(), ErrorKind::kInternal, "MLP inference: no layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    const MlpLayer& layer = layers[i];
    AIOK_ASSERT(static_cast<int64_t>(layer.weight.size()) == layer.in * layer.out &&
                static_cast<int64_t>(layer.bias.size()) == layer.out);
    AIOK_ASSERT(i == 0 || layers[i - 1].out == layer.in);
    if (bf16) {
      std::vector<uint16_t> rounded(layer.weight.size());
      for (size_t k = 0; k < rounded.size(); ++k)
        rounded[k] = ToBf16(layer.weight[k]);
      impl_->weights_bf16.push_back(std::move(rounded));
    }
  }
  impl_->layers = std::move(layers);
}

MlpInference::~MlpInference() = default;

int64_t MlpInference::in() const { return impl_->layers.front().in; }
int64_t MlpInference::out() const { return impl_->layers.back().out; }

void MlpInference::Run(int64_t rows, const void* input, void* output) const {
  const Impl& m = *impl_;
  dnnl::stream stream(m.engine);
  // Per thread and reused: allocating (and zeroing) them per call cost 10% of predict.
  thread_local std::vector<char> scratchpad;
  thread_local std::vector<char> activations[2];
  const void* src = input;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Matmul& matmul = m.MatmulFor(i, rows, bf16_, fp32_output_);
    void* dst = output;
    if (i + 1 < m.layers.size()) {
      std::vector<char>& buffer = activations[i % 2];
      if (buffer.size() < matmul.dst.get_size())
        buffer.resize(matmul.dst.get_size());
      dst = buffer.data();
    }
    if (scratchpad.size() < matmul.scratchpad.get_size())
      scratchpad.resize(matmul.scratchpad.get_size());
    matmul.primitive.execute(
        stream,
        {{DNNL_ARG_SRC, dnnl::memory(matmul.src, m.engine, const_cast<void*>(src))},
         {DNNL_ARG_SCRATCHPAD, dnnl::memory(matmul.scratchpad, m.engine, scratchpad.data())},
         {DNNL_ARG_WEIGHTS, matmul.weights},
         {DNNL_ARG_BIAS,
          dnnl::memory(matmul.bias, m.engine, const_cast<float*>(m.layers[i].bias.data()))},
         {DNNL_ARG_DST, dnnl::memory(matmul.dst, m.engine, dst)}});
    src = dst;
  }
  stream.wait();
}

}  // namespace aiok::models
