// DIEN, the Deep Interest Evolution Network (Zhou et al., AAAI 2019): a click model that reads
// the user's behaviour sequence through two recurrent layers.
//
// Built from a dataset's FeatureLayout, where each behaviour sequence field (hist_items) is
// paired with the categorical field of the same ids (item_id) and both look up one table:
//  - behaviour e_t: the concatenated embeddings of the t-th event of every paired history
//    (item and category), the most recent max_history events, oldest first;
//  - interest extractor: a GRU over e_1..e_T. Its auxiliary loss makes state h_t predict the
//    next behaviour e_{t+1} against a negative (another row's behaviour from the batch: item
//    and category stay a real pair), through a small MLP, weighted by aux_weight;
//  - interest evolution: attention between the target (the concatenated target embeddings,
//    projected to the hidden width and PReLU'd) and each h_t through an MLP on [q, h, q-h, q*h]
//    (80-40, sigmoid, as the reference code), softmax over the row's positions; an AUGRU over
//    h_t whose update gate is scaled by the attention; its last state is the evolved interest;
//  - an MLP (200-80, Dice or PReLU) on [dense fields, embeddings of the other categorical
//    fields, mean of the unpaired list fields, target, history mean, target * history mean,
//    evolved interest] to one logit.
// Rows with an empty history get zero states and a zero history mean. Sequences are packed
// (models/gru.h): padding is never computed, so it cannot change a prediction.
//
// Where it differs from the reference code (mouna99/dien, TensorFlow): no batch normalization
// before the final and the auxiliary MLPs (it would make a row's score depend on its batch);
// the auxiliary network ends in one logit instead of a two-way softmax (the same model); its
// loss is the mean over real (state, next event) pairs, not over padded positions too; the
// negatives are other rows' events of the batch instead of items drawn from the catalogue; the
// history is mean-pooled (the reference sums) for the MLP's history and product terms; the
// AUGRU follows the paper, update = a * (1 - z) (a = 0 keeps the state), where the reference
// code scales the keep gate instead, keep = (1 - a) * z (a = 0 is a plain GRU step).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/data/feature_batch.h"
#include "aiok/models/dien_embedding.h"
#include "aiok/models/fused_embedding.h"
#include "aiok/models/gru.h"

namespace aiok::models {

/// DIEN's user-facing options, declared once (flags of `aiok train --model dien`, keys of a
/// run config's train section, the advisor's search space).
struct DienOptions {
  std::string preset = "dien";
  int64_t emb_dim = 0;        ///< 0: the preset's
  int64_t hidden = 0;         ///< GRU width; 0: the behaviour width (embedding x pairs)
  std::string attention_mlp;  ///< "": the preset's
  std::string mlp;            ///< "": the preset's
  std::string activation = "preset";
  int64_t max_history = 0;  ///< 0: the preset's
  std::string targets;      ///< "": paired by name with the histories
  std::string histories;    ///< "": every list field hist_X with a target X, X_id, ...
  double aux_weight = 1.0;
  std::string aux_mlp;  ///< "": the preset's

  template <typename V>
  void Visit(V& v) {
    v.Text("preset", &preset, {"dien", "dien-small"}, "architecture preset");
    v.Int("emb-dim", &emb_dim, 0, 4096, "embedding width per id (0: the preset's)");
    v.Int("hidden", &hidden, 0, 4096,
          "GRU/AUGRU state width (0: the behaviour width, embedding width x histories)");
    v.Text("attention-mlp", &attention_mlp, {},
           "attention MLP hidden sizes, e.g. 80-40 (empty: the preset's)");
    v.Text("mlp", &mlp, {}, "final MLP hidden sizes, e.g. 200-80 (empty: the preset's)");
    v.Text("activation", &activation, {"preset", "dice", "prelu"},
           "activation of the final MLP (preset: dien Dice, dien-small PReLU)");
    v.Int("max-history", &max_history, 0, 100000,
          "most recent events of a history the model reads (0: the preset's)");
    v.Text("targets", &targets, {},
           "categorical fields whose tables the histories share, e.g. item_id,cat_id (empty: "
           "by name from the histories)");
    v.Text("histories", &histories, {},
           "sequence fields, one per target, e.g. hist_items,hist_cats (empty: every list field "
           "hist_X whose X, X_id, or singular of a plural X (+_id) is a categorical field)");
    v.Real("aux-weight", &aux_weight, 0.0, 1000.0,
           "weight of the interest extractor's auxiliary loss (0: off)");
    v.Text("aux-mlp", &aux_mlp, {},
           "hidden sizes of the auxiliary loss's MLP, e.g. 100-50 (empty: the preset's)");
  }
};

/// The shape DIEN is built with. Saved as the model's architecture JSON.
struct DienArchitecture {
  /// A history field and the categorical field of the same ids; they share a table.
  struct Pair {
    int32_t target = 0;   ///< index among the layout's categorical fields
    int32_t history = 0;  ///< index among its jagged fields
    std::string target_name;
    std::string history_name;
  };

  data::Task task = data::Task::kBinary;
  int64_t dense_features = 0;
  std::vector<int64_t> table_sizes;  ///< rows per categorical field, layout order
  std::vector<int64_t> list_sizes;   ///< rows per jagged field, layout order
  std::vector<Pair> pairs;
  int64_t embedding_dim = 18;
  int64_t hidden = 36;
  std::vector<int64_t> attention_mlp = {80, 40};
  std::vector<int64_t> mlp = {200, 80};
  std::string activation = "dice";  ///< "dice" or "prelu"
  std::vector<int64_t> aux_mlp = {100, 50};
  double aux_weight = 1.0;
  int64_t max_history = 100;

  /// The architecture `options` give for `layout`. Throws Error(kConfig) naming the option or
  /// the fields (a pair whose cardinalities differ needs a shared vocabulary).
  static DienArchitecture Resolve(const data::FeatureLayout& layout, const DienOptions& options);
  void Validate() const;

  int64_t behaviour_width() const { return static_cast<int64_t>(pairs.size()) * embedding_dim; }
  /// The shared embedding's tables: one per pair, then one per other categorical field.
  std::vector<int64_t> EmbeddingTables() const;
  /// The table each categorical field looks up.
  std::vector<int64_t> ColumnTables() const;
  /// Categorical fields that are not targets, and jagged fields that are not histories.
  std::vector<int32_t> OtherColumns() const;
  std::vector<int32_t> UnpairedLists() const;
  /// Input width of the final MLP.
  int64_t MlpWidth() const;
  /// Throws Error(kInvalidInput) when `batch` lacks a block the model reads; `who` starts it.
  void CheckBatch(const data::FeatureBatch& batch, const char* who) const;

  nlohmann::json ToJson() const;
  static DienArchitecture FromJson(const nlohmann::json& json);
};

/// Presets: "dien" (the reference code's: 18 per id, hidden = behaviour width, attention
/// 80-40, MLP 200-80 with Dice, auxiliary MLP 100-50, the last 100 events) and the democratized
/// "dien-small" (8 per id, attention 32-16, MLP 64-32 with PReLU, auxiliary 32-16, the last 20).
void ApplyDienPreset(const std::string& name, DienArchitecture* architecture);

/// Dice (the DIN paper's data-dependent PReLU) or PReLU over the last dimension of [rows, width].
/// Dice: p = sigmoid((x - mean) / sqrt(var + 1e-8)), y = p x + (1 - p) alpha x, with the batch's
/// mean and variance in training and running averages (momentum 0.1) in evaluation. PReLU:
/// y = max(x, 0) + alpha min(x, 0). alpha per unit: 0 for Dice, 0.1 for PReLU (the reference).
class DienActivationImpl : public torch::nn::Module {
 public:
  DienActivationImpl(int64_t width, bool dice);
  torch::Tensor forward(const torch::Tensor& x);

  bool dice() const { return dice_; }
  torch::Tensor alpha;         ///< [width]
  torch::Tensor running_mean;  ///< [width], Dice only
  torch::Tensor running_var;   ///< [width], Dice only

 private:
  bool dice_;
};
TORCH_MODULE(DienActivation);

/// What a batch looks like to DIEN: its rows sorted by history length and the events packed
/// (models/gru.h), and the indices that move between rows and packed positions. Built per
/// batch by the model; public so tests can look inside.
struct DienBatchPlan {
  PackedSequences packed;
  DienLookup lookup;             ///< the embedding lookup of the batch (events in packed order)
  std::vector<int64_t> length;   ///< per row: events read (<= max_history)
  torch::Tensor event_row;       ///< [positions] int64: the row of each packed position
  torch::Tensor last_position;   ///< [rows] int64: packed position of the row's last event, or
                                 ///< positions() for an empty history
  torch::Tensor inverse_length;  ///< [rows] fp32: 1 / length, 0 for an empty history
};

class DienImpl : public torch::nn::Module {
 public:
  explicit DienImpl(DienArchitecture architecture);

  /// The batch's rows -> logits (binary) or values [rows]. Views into the batch: it must
  /// outlive the backward pass. In training mode it also computes the auxiliary loss
  /// (aux_loss()). In evaluation mode it changes no state, so several threads may run it at
  /// once.
  torch::Tensor forward(const data::FeatureBatch& batch);

  /// The last training forward's auxiliary loss, weighted; undefined when it had none.
  const torch::Tensor& aux_loss() const { return aux_loss_; }

  DienBatchPlan Plan(const data::FeatureBatch& batch) const;

  const DienArchitecture& architecture() const { return architecture_; }
  DienEmbedding& embedding() { return embedding_; }
  /// The unpaired list fields' pooled tables; null when there are none.
  FusedEmbedding& lists() { return lists_; }
  PackedGru& extractor() { return extractor_; }
  PackedGru& evolution() { return evolution_; }
  FastLinear& query() { return query_; }
  DienActivation& query_activation() { return query_activation_; }
  torch::nn::Sequential& attention() { return attention_; }
  torch::nn::Sequential& mlp() { return mlp_; }
  torch::nn::Sequential& aux_mlp() { return aux_mlp_; }

 private:
  torch::Tensor AuxiliaryLoss(const data::FeatureBatch& batch, const DienBatchPlan& plan,
                              const torch::Tensor& states, const torch::Tensor& behaviours);

  DienArchitecture architecture_;
  DienEmbedding embedding_{nullptr};
  FusedEmbedding lists_{nullptr};
  PackedGru extractor_{nullptr};
  PackedGru evolution_{nullptr};
  FastLinear query_{nullptr};
  DienActivation query_activation_{nullptr};
  torch::nn::Sequential attention_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
  torch::nn::Sequential aux_mlp_{nullptr};
  torch::Tensor aux_loss_;
};
TORCH_MODULE(Dien);

/// The in-batch negatives of the auxiliary loss: for each positive (the next behaviour, at
/// packed position positives[k]), the packed position of an event of another row when the
/// batch has one. A function of the batch's contents (its index and ids), so a resumed run
/// draws the same negatives.
std::vector<int64_t> DienNegatives(const data::FeatureBatch& batch, const DienBatchPlan& plan,
                                   const std::vector<int64_t>& positives);

}  // namespace aiok::models
