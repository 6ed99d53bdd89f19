// DLRM (Naumov et al., 2019): a bottom MLP over the dense features, one embedding per
// categorical field (the fused table-batched embedding), pairwise dot-product (or
// concatenation) interaction of the bottom output with the embeddings, and a top MLP to one
// output.
//
// Built from a dataset's FeatureLayout, so no field count is written into the code:
//  - one-id categorical fields are looked up as they are;
//  - multi-categorical list fields are pooled by sum or mean (--pooling);
//  - sequence fields are pooled by their mean: DLRM sees a history as a bag of its events,
//    order ignored (DIEN is the model that reads the order);
//  - with no dense field there is no bottom MLP: the first embedding takes the bottom output's
//    place — passed through to the top MLP and interacting with the other embeddings.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/options.h"
#include "aiok/data/feature_batch.h"
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

/// DLRM's user-facing options, declared once: flags of `aiok train --model dlrm`, keys of a
/// run config's train section, and the advisor's search space.
struct DlrmOptions {
  std::string preset = "dlrm-kaggle";
  int64_t emb_dim = 0;  ///< 0: the preset's
  std::string mlp_bot;  ///< "": the preset's
  std::string mlp_top;  ///< "": the preset's
  std::string interaction = "dot";
  std::string pooling = "sum";

  template <typename V>
  void Visit(V& v) {
    v.Text("preset", &preset, {"dlrm-kaggle", "dlrm-small", "dlrm-tiny"}, "architecture preset");
    v.Int("emb-dim", &emb_dim, 0, 4096, "embedding width (0: the preset's)");
    v.Text("mlp-bot", &mlp_bot, {}, "bottom MLP sizes, e.g. 13-512-256-64-16 (empty: preset)");
    v.Text("mlp-top", &mlp_top, {}, "top MLP sizes, e.g. 512-256-1 (empty: preset)");
    v.Text("interaction", &interaction, {"dot", "dot-self", "cat"}, "feature interaction");
    v.Text("pooling", &pooling, {"sum", "mean"},
           "how a multi-categorical field's embeddings are pooled (sequences: always mean)");
  }
};

/// The shape DLRM is built with: the layout's fields and the resolved options. Saved as the
/// model's architecture JSON (what a bundle needs to rebuild it).
struct DlrmArchitecture {
  data::Task task = data::Task::kBinary;
  int64_t dense_features = 13;
  std::vector<int64_t> table_sizes;   ///< rows per one-id categorical field's table
  std::vector<int64_t> list_sizes;    ///< rows per list field's table (after the one-id ones)
  std::vector<Pooling> list_pooling;  ///< how each list field pools
  int64_t embedding_dim = 16;
  std::vector<int64_t> bottom_mlp = {512, 256, 64, 16};  ///< hidden sizes; last = embedding_dim
  std::vector<int64_t> top_mlp = {512, 256, 1};          ///< hidden sizes; the last is 1
  Interaction interaction = Interaction::kDot;

  /// The architecture `options` give for `layout`. Throws Error(kConfig) naming the option.
  static DlrmArchitecture Resolve(const data::FeatureLayout& layout, const DlrmOptions& options);
  /// Checks the shapes fit together; throws Error(kConfig) naming the option.
  void Validate() const;
  /// Embedding fields: the one-id ones, then the list ones.
  int64_t fields() const;
  /// Vectors that interact: the bottom output (when there are dense features) and the fields.
  int64_t vectors() const;
  /// Input width of the top MLP.
  int64_t InteractionWidth() const;
  /// Throws Error(kInvalidInput) when `batch` lacks a block the model reads or has another
  /// number of list fields; `who` starts the message.
  void CheckBatch(const data::FeatureBatch& batch, const char* who) const;

  nlohmann::json ToJson() const;
  /// Errors (kInvalidInput) say what is missing.
  static DlrmArchitecture FromJson(const nlohmann::json& json);
};

/// Architectures by name: "dlrm-kaggle" (the reference DLRM's Kaggle configuration) and the
/// lighter "dlrm-small" and "dlrm-tiny". Sets embedding_dim and the MLPs.
void ApplyDlrmPreset(const std::string& name, DlrmArchitecture* architecture);
std::vector<std::string> DlrmPresetNames();

/// Parses "512-256-64-16" into sizes; a leading input size equal to `drop_leading_if` (the
/// number of dense features, as in "13-512-256-64-16") is dropped.
std::vector<int64_t> ParseMlpSizes(const std::string& text, int64_t drop_leading_if);

class DlrmImpl : public torch::nn::Module {
 public:
  explicit DlrmImpl(DlrmArchitecture architecture);

  /// dense [batch, dense_features] float, ids [batch, one-id fields] int, and the list fields
  /// -> outputs [batch].
  torch::Tensor forward(const torch::Tensor& dense, const torch::Tensor& ids,
                        const std::vector<data::JaggedIds>& lists = {});
  /// The batch's fields as the forward above takes them (views: the batch must outlive the
  /// backward pass).
  torch::Tensor forward(const data::FeatureBatch& batch);

  /// The interaction alone: bottom [batch, d] and embeddings [batch, fields, d].
  torch::Tensor Interact(const torch::Tensor& bottom, const torch::Tensor& embeddings) const;

  FusedEmbedding& embedding() { return embedding_; }
  /// Null without dense features.
  torch::nn::Sequential& bottom() { return bottom_; }
  torch::nn::Sequential& top() { return top_; }
  const DlrmArchitecture& architecture() const { return architecture_; }

 private:
  DlrmArchitecture architecture_;
  torch::nn::Sequential bottom_{nullptr};
  torch::nn::Sequential top_{nullptr};
  FusedEmbedding embedding_{nullptr};
};
TORCH_MODULE(Dlrm);

}  // namespace aiok::models
