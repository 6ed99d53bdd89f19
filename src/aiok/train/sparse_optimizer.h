// The optimizer of the embedding tables: applies each sparse parameter group's gradient —
// unique rows and their summed gradient, left by backward (models/sparse_gradient.h) — to
// those rows only, with SGD, Adagrad or row-wise Adagrad. Its step is separate from backward so
// that data-parallel ranks can exchange the (ids, rows) gradients in between; no table-sized
// gradient is ever built. Each update equals what torch's optimizer makes of the coalesced
// sparse gradient of an EmbeddingBag.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "aiok/models/sparse_gradient.h"
#include "aiok/train/optimizer_options.h"

namespace aiok::train {

class SparseOptimizer {
 public:
  /// Updates `groups` (which must outlive this) by `update` at `lr`. `eps` and
  /// `initial_accumulator` are Adagrad's (torch's defaults).
  SparseOptimizer(std::vector<models::SparseParameterGroup*> groups, SparseUpdate update, double lr,
                  double eps = 1e-10, double initial_accumulator = 0.0);
  /// The sparse optimizer `options` describe (embedding-update, embedding-lr).
  static std::unique_ptr<SparseOptimizer> Create(const OptimizerOptions& options,
                                                 std::vector<models::SparseParameterGroup*> groups);

  /// The learning rate of the next steps (schedules change it).
  void SetLr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }
  /// Applies every group's gradient to its rows and clears it.
  void Step();
  /// Drops the gradients without applying them.
  void ZeroGrad();
  /// Group i's state: [rows x dim] (Adagrad), [rows] (row-wise Adagrad), empty (SGD).
  const torch::Tensor& state(size_t group) const { return state_[group]; }

  void Save(torch::serialize::OutputArchive& archive) const;
  /// Throws Error(kInvalidInput) when the archive's state does not fit the groups.
  void Load(torch::serialize::InputArchive& archive);

 private:
  std::vector<models::SparseParameterGroup*> groups_;
  SparseUpdate update_;
  double lr_;
  double eps_;
  std::vector<torch::Tensor> state_;
};

}  // namespace aiok::train
