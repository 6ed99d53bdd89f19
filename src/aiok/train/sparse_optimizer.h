// The optimizer of the embedding tables: applies each sparse parameter group's gradient —
// unique rows and their summed gradient, left by backward (models/sparse_gradient.h) — to
// those rows only, with SGD, Adagrad, row-wise Adagrad or FTRL-Proximal. A group may bring its
// own rule (Wide&Deep's wide weights: FTRL at a fixed rate); the others take the run's. Its step is separate from backward so
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
  /// Updates `groups` (which must outlive this) by `update` at `lr`, except groups with their
  /// own rule. `eps` and `initial_accumulator` are Adagrad's (torch's defaults).
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
  /// Group i's state: [rows x dim] (Adagrad), [rows] (row-wise Adagrad), [rows x 2 dim]
  /// (FTRL: z, then n), empty (SGD).
  const torch::Tensor& state(size_t group) const { return state_[group]; }

  void Save(torch::serialize::OutputArchive& archive) const;
  /// Throws Error(kInvalidInput) when the archive's state does not fit the groups.
  void Load(torch::serialize::InputArchive& archive);

 private:
  // How one group is updated: the run's rule (lr scheduled), or the group's own (lr fixed).
  struct GroupRule {
    SparseUpdate update;
    bool own = false;
    double lr = 0.0;
    double l1 = 0.0;
    double l2 = 0.0;
    double beta = 1.0;
  };
  void StepGroup(models::SparseParameterGroup& group, const GroupRule& rule, torch::Tensor& state);

  std::vector<models::SparseParameterGroup*> groups_;
  std::vector<GroupRule> rules_;
  double lr_;
  double eps_;
  std::vector<torch::Tensor> state_;
};

}  // namespace aiok::train
