#include "aiok/models/mlp.h"

#include "aiok/core/error.h"
#include "aiok/models/fast_linear.h"

namespace aiok::models {

torch::nn::Sequential Mlp(int64_t input, const std::vector<int64_t>& sizes, bool last_plain) {
  torch::nn::Sequential mlp;
  int64_t in = input;
  for (size_t i = 0; i < sizes.size(); ++i) {
    mlp->push_back(FastLinear(in, sizes[i]));
    if (!(last_plain && i + 1 == sizes.size()))
      mlp->push_back(torch::nn::ReLU());
    in = sizes[i];
  }
  return mlp;
}

std::vector<MlpLayer> MlpLayers(const torch::nn::Sequential& mlp) {
  std::vector<MlpLayer> layers;
  for (const auto& child : mlp->children()) {
    if (const auto* linear = child->as<FastLinearImpl>()) {
      MlpLayer layer;
      const torch::Tensor w = linear->weight.detach().to(torch::kFloat32).contiguous();
      const torch::Tensor b = linear->bias.detach().to(torch::kFloat32).contiguous();
      layer.out = w.size(0);
      layer.in = w.size(1);
      layer.weight.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
      layer.bias.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
      layers.push_back(std::move(layer));
    } else if (child->as<torch::nn::ReLUImpl>()) {
      AIOK_CHECK(!layers.empty(), ErrorKind::kInternal, "MLP: ReLU before a layer");
      layers.back().relu = true;
    } else {
      Throw(ErrorKind::kInternal, "MLP: unexpected module {}", child->name());
    }
  }
  return layers;
}

}  // namespace aiok::models
