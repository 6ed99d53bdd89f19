// DLRM (Naumov et al., 2019): a bottom MLP over the dense features, one embedding per
// categorical feature (the fused table-batched embedding), pairwise dot-product (or
// concatenation) interaction of the bottom output with the embeddings, and a top MLP to one
// logit.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/models/fused_embedding.h"

namespace aiok::models {

/// How DLRM combines the bottom output with the embeddings.
enum class Interaction {
  kDot,          ///< pairwise dot products, strictly below the diagonal
  kDotWithSelf,  ///< pairwise dot products including each vector with itself
  kCat,          ///< concatenation
};

/// "dot", "dot-self", "cat"; anything else throws Error(kConfig).
Interaction ParseInteraction(const std::string& name);
std::string InteractionName(Interaction interaction);

struct DlrmOptions {
  int64_t dense_features = 13;
  std::vector<int64_t> table_sizes;  ///< rows per categorical table (schema cardinalities)
  int64_t embedding_dim = 16;
  std::vector<int64_t> bottom_mlp = {512, 256, 64,
                                     16};        ///< hidden sizes; the last is embedding_dim
  std::vector<int64_t> top_mlp = {512, 256, 1};  ///< hidden sizes; the last is 1
  Interaction interaction = Interaction::kDot;
  SparseUpdate embedding_update = SparseUpdate::kSgd;
  double embedding_lr = 0.01;

  /// Checks the shapes fit together; throws Error(kConfig) naming the option.
  void Validate() const;
  /// Input width of the top MLP for these options.
  int64_t InteractionWidth() const;

  /// The shape-defining options as JSON (what a saved model needs to be rebuilt), and back.
  nlohmann::json ArchitectureJson() const;
  static DlrmOptions FromArchitectureJson(const nlohmann::json& json);
};

/// Architectures by name: "dlrm-kaggle" (the reference DLRM's Kaggle configuration) and the
/// lighter "dlrm-small" and "dlrm-tiny". Sets embedding_dim and the MLPs of `options`.
void ApplyDlrmPreset(const std::string& name, DlrmOptions* options);
std::vector<std::string> DlrmPresetNames();

/// Parses "512-256-64-16" into sizes; a leading input size equal to `drop_leading_if` (the
/// number of dense features, as in "13-512-256-64-16") is dropped.
std::vector<int64_t> ParseMlpSizes(const std::string& text, int64_t drop_leading_if);

class DlrmImpl : public torch::nn::Module {
 public:
  explicit DlrmImpl(DlrmOptions options);

  /// dense [batch, dense_features] float, categorical [batch, tables] int -> logits [batch].
  torch::Tensor forward(const torch::Tensor& dense, const torch::Tensor& categorical);

  /// The interaction alone: bottom [batch, d] and embeddings [batch, tables, d].
  torch::Tensor Interact(const torch::Tensor& bottom, const torch::Tensor& embeddings) const;

  FusedEmbedding& embedding() { return embedding_; }
  torch::nn::Sequential& bottom() { return bottom_; }
  torch::nn::Sequential& top() { return top_; }
  const DlrmOptions& options() const { return options_; }

 private:
  DlrmOptions options_;
  torch::nn::Sequential bottom_{nullptr};
  torch::nn::Sequential top_{nullptr};
  FusedEmbedding embedding_{nullptr};
};
TORCH_MODULE(Dlrm);

}  // namespace aiok::models
