// Multi-layer perceptrons as the models build them for training (FastLinear layers, ReLU
// between them) and their weights handed to the inference engine (models/mlp_inference.h).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "aiok/models/mlp_inference.h"

namespace aiok::models {

/// Linear layers (FastLinear: oneDNN GEMMs, DLRM reference initialization) of `sizes` from
/// `input` features, with ReLU between them, and after the last one unless `last_plain`.
torch::nn::Sequential Mlp(int64_t input, const std::vector<int64_t>& sizes, bool last_plain);

/// The layers of an Mlp() as plain arrays (weights copied), for MlpInference.
std::vector<MlpLayer> MlpLayers(const torch::nn::Sequential& mlp);

}  // namespace aiok::models
