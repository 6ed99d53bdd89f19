// Wide & Deep (Cheng et al., 2016): a linear model over sparse one-hot and crossed fields (the
// wide part, memorization) plus embeddings and an MLP (the deep part, generalization), whose
// logits are summed and trained jointly.
//
// Built from a dataset's FeatureLayout:
//  - wide: one weight per value of every categorical field, per value of every list field
//    (summed over the row's values), and per bucket of every cross — a cross hashes the ids of
//    two or more categorical fields of the row into `cross_buckets` buckets, as the paper's
//    cross-product transformations do. Crosses can also come from the pipeline (the ETL's
//    `hashed_cross` operator), as ordinary categorical fields. The wide weights are a dim-1
//    table-batched embedding, updated sparsely by FTRL-Proximal as in the paper (or Adagrad);
//  - deep: the dense fields and one embedding per categorical and list field (lists pooled),
//    concatenated, into an MLP to one logit (published: 1024-512-256).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/data/feature_batch.h"
#include "aiok/models/fused_embedding.h"

namespace aiok::models {

/// Wide&Deep's user-facing options, declared once (flags of `aiok train --model wnd`, keys of
/// a run config's train section, the advisor's search space).
struct WideDeepOptions {
  std::string preset = "wnd";
  int64_t emb_dim = 0;  ///< 0: the preset's
  std::string mlp;      ///< "": the preset's
  std::string crosses;  ///< "C1:C2,C3:C4:C5": crosses of categorical fields, by name
  int64_t cross_buckets = 100000;
  std::string pooling = "sum";
  std::string wide_update = "ftrl";
  double wide_lr = 0.05;
  double wide_l1 = 0.0;
  double wide_l2 = 0.0;

  template <typename V>
  void Visit(V& v) {
    v.Text("preset", &preset, {"wnd", "wnd-small"}, "architecture preset");
    v.Int("emb-dim", &emb_dim, 0, 4096, "deep embedding width (0: the preset's)");
    v.Text("mlp", &mlp, {}, "deep MLP hidden sizes, e.g. 1024-512-256 (empty: the preset's)");
    v.Text("crosses", &crosses, {},
           "wide crosses of categorical fields by name: C1:C2,C3:C4:C5 (empty: none)");
    v.Int("cross-buckets", &cross_buckets, 1, int64_t{1} << 30,
          "hash buckets of each wide cross");
    v.Text("pooling", &pooling, {"sum", "mean"},
           "how a multi-categorical field's embeddings are pooled (sequences: always mean)");
    v.Text("wide-update", &wide_update, {"ftrl", "adagrad"},
           "optimizer of the wide weights (FTRL-Proximal as in the paper)");
    v.Real("wide-lr", &wide_lr, 0.0, 100.0, "learning rate (FTRL's alpha) of the wide weights");
    v.Real("wide-l1", &wide_l1, 0.0, 100.0, "FTRL L1 strength (sparsity of the wide weights)");
    v.Real("wide-l2", &wide_l2, 0.0, 100.0, "FTRL L2 strength");
  }
};

/// The shape Wide&Deep is built with. Saved as the model's architecture JSON.
struct WideDeepArchitecture {
  data::Task task = data::Task::kBinary;
  int64_t dense_features = 0;
  std::vector<int64_t> table_sizes;   ///< rows per one-id categorical field
  std::vector<int64_t> list_sizes;    ///< rows per list field
  std::vector<Pooling> list_pooling;  ///< deep pooling of each list field
  /// Each cross: the indices of its categorical fields, and its name ("C1:C2").
  std::vector<std::vector<int32_t>> crosses;
  std::vector<std::string> cross_names;
  int64_t cross_buckets = 100000;
  int64_t embedding_dim = 32;
  std::vector<int64_t> deep_mlp = {1024, 512, 256};  ///< hidden sizes; a 1-wide layer follows
  std::string wide_update = "ftrl";
  double wide_lr = 0.05;
  double wide_l1 = 0.0;
  double wide_l2 = 0.0;

  /// The architecture `options` give for `layout`. Throws Error(kConfig) naming the option.
  static WideDeepArchitecture Resolve(const data::FeatureLayout& layout,
                                      const WideDeepOptions& options);
  void Validate() const;
  /// Deep embedding fields: the one-id ones, then the list ones.
  int64_t fields() const;
  /// Input width of the deep MLP: the dense fields and every field's embedding.
  int64_t DeepWidth() const;
  /// The wide tables: the one-id fields, the crosses, then the list fields.
  std::vector<int64_t> WideTableSizes() const;
  /// Throws Error(kInvalidInput) when `batch` lacks a block the model reads; `who` starts it.
  void CheckBatch(const data::FeatureBatch& batch, const char* who) const;

  nlohmann::json ToJson() const;
  static WideDeepArchitecture FromJson(const nlohmann::json& json);
};

/// Presets: "wnd" (the paper's: 32-wide embeddings, deep 1024-512-256) and the democratized
/// "wnd-small" (16-wide, deep 256-128).
void ApplyWideDeepPreset(const std::string& name, WideDeepArchitecture* architecture);

/// The wide bucket of cross `fields` for one row's categorical ids: a hash of the ids (in the
/// cross's field order) modulo `buckets`. Training and inference both call this.
inline int32_t CrossBucket(const int32_t* row_ids, const std::vector<int32_t>& fields,
                           int64_t buckets) {
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (int32_t f : fields) {
    h ^= static_cast<uint64_t>(static_cast<uint32_t>(row_ids[f])) + 0x9e3779b97f4a7c15ULL +
         (h << 6) + (h >> 2);
    // splitmix64's finalizer: every id bit reaches every bucket bit.
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
  }
  return static_cast<int32_t>(h % static_cast<uint64_t>(buckets));
}

class WideDeepImpl : public torch::nn::Module {
 public:
  explicit WideDeepImpl(WideDeepArchitecture architecture);

  /// The batch's rows -> logits (binary) or values [rows]. Views into the batch: it must
  /// outlive the backward pass.
  torch::Tensor forward(const data::FeatureBatch& batch);

  /// The wide part's ids of the batch: [rows, one-id fields + crosses] (the crosses hashed).
  torch::Tensor WideIds(const data::FeatureBatch& batch) const;

  FusedEmbedding& deep_embedding() { return deep_embedding_; }
  FusedEmbedding& wide() { return wide_; }
  torch::nn::Sequential& deep() { return deep_; }
  torch::Tensor& bias() { return bias_; }
  const WideDeepArchitecture& architecture() const { return architecture_; }

 private:
  WideDeepArchitecture architecture_;
  FusedEmbedding deep_embedding_{nullptr};
  FusedEmbedding wide_{nullptr};
  torch::nn::Sequential deep_{nullptr};
  torch::Tensor bias_;
};
TORCH_MODULE(WideDeep);

}  // namespace aiok::models
