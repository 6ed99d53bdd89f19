// A table-batched embedding: every categorical table in one weight matrix, looked up in one
// operator. Fields with one id per row are looked up as they are; list fields (several ids
// per row: multi-categorical values, behaviour sequences) are pooled by sum or mean, as
// EmbeddingBag does.
//
// Its backward builds no gradient tensor: it coalesces the output gradient into the rows that
// were looked up — unique row ids and each row's summed gradient (SparseGradient) — and leaves
// them in gradient() for the optimizer step (train/sparse_optimizer.h) to apply. Duplicates are
// summed in (id, position) order, so the step equals what torch's optimizer makes of the
// coalesced sparse gradient of an EmbeddingBag.
//
// The weight is a buffer, not a parameter: dense optimizers never see it; checkpoints save it
// with the module's buffers.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aiok/data/feature_batch.h"
#include "aiok/models/pooling.h"
#include "aiok/models/sparse_gradient.h"

namespace aiok::models {

struct FusedEmbeddingOptions {
  /// Rows per table, one table per field: the one-id fields first, then the list fields.
  std::vector<int64_t> table_sizes;
  int64_t dim = 16;  ///< embedding width
  /// How each list field pools; the last list_pooling.size() tables are the list fields.
  std::vector<Pooling> list_pooling;
  /// The group's name (keys its optimizer state in checkpoints; unique within a model).
  std::string group_name = "embedding";
  /// Its own update rule, when the run's embedding update is not the one (wide weights).
  std::optional<SparseUpdateRule> own_update;
  /// Zeros instead of DLRM's uniform start (a linear model's weights).
  bool zero_init = false;

  int64_t fields() const { return static_cast<int64_t>(table_sizes.size()); }
  int64_t list_fields() const { return static_cast<int64_t>(list_pooling.size()); }
  int64_t single_fields() const { return fields() - list_fields(); }
};

class FusedEmbeddingImpl : public torch::nn::Module, public SparseParameterGroup {
 public:
  explicit FusedEmbeddingImpl(FusedEmbeddingOptions options);

  /// Re-initializes: each table uniform in +-1/sqrt(rows), as the DLRM reference does (zeros
  /// with zero_init).
  void reset();

  /// ids [batch, one-id fields] (int32 or int64, id < table size) and, per list field, a row's
  /// ids (JaggedIds over `ids.size(0)` rows) -> embeddings [batch, fields, dim]. In training
  /// mode (torch grad enabled) the result's backward leaves the gradient in gradient(); the
  /// memory `ids` and `lists` point into must stay alive until then.
  torch::Tensor forward(const torch::Tensor& ids, const std::vector<data::JaggedIds>& lists = {});

  const FusedEmbeddingOptions& options() const { return options_; }

  /// The same lookup outside autograd.
  torch::Tensor Gather(const torch::Tensor& ids, const std::vector<data::JaggedIds>& lists) const;

  /// What backward does: adds the gradient of the rows that `ids` and `lists` looked up, given
  /// grad [batch, fields, dim] of the output, to gradient(). Public for tests.
  void AccumulateGradient(const torch::Tensor& ids, const std::vector<data::JaggedIds>& lists,
                          const torch::Tensor& grad);

  /// All tables stacked: [total rows, dim]. Table t starts at row offsets()[t].
  torch::Tensor weight;
  const std::vector<int64_t>& offsets() const { return offsets_; }

  // SparseParameterGroup
  std::string group_name() const override { return options_.group_name; }
  int64_t rows() const override { return weight.size(0); }
  int64_t dim() const override { return options_.dim; }
  float* weight_data() override { return weight.data_ptr<float>(); }
  SparseGradient& gradient() override { return gradient_; }
  const SparseUpdateRule* own_update() const override {
    return options_.own_update ? &*options_.own_update : nullptr;
  }

 private:
  // Coalesces into `out` (which must be empty).
  void Coalesce(const torch::Tensor& ids, const std::vector<data::JaggedIds>& lists,
                const torch::Tensor& grad, SparseGradient* out);

  FusedEmbeddingOptions options_;
  std::vector<int64_t> offsets_;
  torch::Tensor offsets_tensor_;  // the one-id fields' table offsets, for the gather
  // Requires grad so autograd calls the backward that coalesces the gradient.
  torch::Tensor trigger_;
  SparseGradient gradient_;
  SparseGradient second_;  // a backward's gradient while gradient_ still holds an earlier one
  // Per table, reused across steps: sort keys (id << 32 | position), and for list fields the
  // row each position belongs to.
  std::vector<std::vector<uint64_t>> keys_;
  std::vector<std::vector<int32_t>> key_rows_;
};
TORCH_MODULE(FusedEmbedding);

}  // namespace aiok::models
