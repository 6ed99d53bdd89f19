// A table-batched embedding: every categorical table in one weight matrix, looked up in one
// operator, whose backward pass applies the sparse optimizer update to the touched rows in
// place (SGD, Adagrad, or row-wise Adagrad) instead of materializing sparse gradient tensors
// for a separate optimizer step. Duplicate ids in a batch are summed first, so each update
// equals the one torch's optimizer makes from the coalesced sparse gradient.
//
// The weight is a buffer, not a parameter: dense optimizers never see it; checkpoints save it
// with the module's buffers.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace aiok::models {

/// How the embedding rows are updated during backward.
enum class SparseUpdate {
  kSgd,             ///< w -= lr * g
  kAdagrad,         ///< s += g*g (per element); w -= lr * g / (sqrt(s) + eps)
  kRowWiseAdagrad,  ///< s += mean(g*g) (one per row); w -= lr * g / (sqrt(s) + eps)
};

/// "sgd", "adagrad", "rowwise-adagrad"; anything else throws Error(kConfig).
SparseUpdate ParseSparseUpdate(const std::string& name);

struct FusedEmbeddingOptions {
  std::vector<int64_t> table_sizes;  ///< rows per table, one table per categorical column
  int64_t dim = 16;                  ///< embedding width
  SparseUpdate update = SparseUpdate::kSgd;
  double lr = 0.01;
  double eps = 1e-10;                ///< Adagrad's epsilon (torch's default)
  double initial_accumulator = 0.0;  ///< Adagrad's starting state
};

class FusedEmbeddingImpl : public torch::nn::Module {
 public:
  explicit FusedEmbeddingImpl(FusedEmbeddingOptions options);

  /// Re-initializes: each table uniform in +-1/sqrt(rows), as the DLRM reference does.
  void reset();

  /// ids [batch, tables] (int32 or int64, id < table size) -> embeddings [batch, tables, dim].
  /// In training mode (torch grad enabled) the result's backward updates the weight in place.
  torch::Tensor forward(const torch::Tensor& ids);

  /// The learning rate of the in-place update (schedules change it between steps).
  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  const FusedEmbeddingOptions& options() const { return options_; }

  /// The rows for ids [batch, tables] as [batch, tables, dim], outside autograd.
  torch::Tensor Gather(const torch::Tensor& ids) const;

  /// The update itself: grad [batch, tables, dim] for the rows named by ids [batch, tables].
  /// Called by the backward pass; public for tests and for callers with their own gradients.
  void ApplyGradient(const torch::Tensor& ids, const torch::Tensor& grad);

  /// All tables stacked: [total rows, dim]. Table t starts at row offsets()[t].
  torch::Tensor weight;
  /// Adagrad state: [total rows, dim] (Adagrad), [total rows] (row-wise), empty (SGD).
  torch::Tensor state;
  const std::vector<int64_t>& offsets() const { return offsets_; }

 private:
  FusedEmbeddingOptions options_;
  std::vector<int64_t> offsets_;
  torch::Tensor offsets_tensor_;
  // Requires grad so autograd calls the backward that applies the update.
  torch::Tensor trigger_;
};
TORCH_MODULE(FusedEmbedding);

}  // namespace aiok::models
