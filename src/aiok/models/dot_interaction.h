// DLRM's dot interaction as one operator: for each row, the bottom-MLP output followed by the
// dot products of every pair of its vectors (the bottom output and the embeddings), lower
// triangle in row-major order — what bmm + a triangle gather + cat compute, without their
// intermediate [batch, vectors, vectors] tensors, and with a backward that accumulates the
// vectors' gradients directly. Computed in fp32 whatever the input type.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace aiok::models {

/// The (i, j) vector pairs of the interaction in output order: i > j (or i >= j with
/// `with_self`), row by row — the order of torch::tril_indices.
std::vector<std::pair<int32_t, int32_t>> InteractionPairs(int64_t vectors, bool with_self);

/// bottom [batch, d], embeddings [batch, tables, d] -> [batch, d + pairs], fp32. Differentiable
/// in both inputs; gradients come back in the inputs' types.
torch::Tensor DotInteraction(const torch::Tensor& bottom, const torch::Tensor& embeddings,
                             bool with_self);

}  // namespace aiok::models
