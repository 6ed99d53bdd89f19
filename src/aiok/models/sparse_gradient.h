// The gradient of an embedding table as (unique rows, summed gradient rows), and the groups of
// tables a model updates that way. Backward leaves a SparseGradient in each group; an optimizer
// step applies it (train/sparse_optimizer.h). Between the two, data-parallel ranks can exchange
// the (ids, rows) pairs — the form DDP's and Horovod's sparse all-reduce move — without ever
// building a table-sized dense gradient. Torch-free: plain arrays, so they can be sent as is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aiok/core/uninitialized_vector.h"

namespace aiok::models {

/// The gradient of some rows of a [rows x dim] table.
struct SparseGradient {
  int64_t dim = 0;
  std::vector<int64_t> ids;         ///< unique row indices into the table, ascending
  UninitializedVector<float> rows;  ///< [ids.size() x dim]: each row's summed gradient

  bool empty() const { return ids.empty(); }
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  /// Drops the rows (keeps the capacity for the next step).
  void Clear();
  /// Adds `other` (same dim): rows present in both are summed, ids stay unique and ascending.
  /// What a second backward before the step, or another rank's gradient, needs.
  void Add(const SparseGradient& other);
};

/// A group's own update rule, for groups that are not updated like the run's embeddings:
/// Wide&Deep's wide weights take FTRL-Proximal, as in the paper. Its rate is fixed: the run's
/// learning-rate schedule does not scale it (FTRL's per-coordinate rate already decays).
struct SparseUpdateRule {
  std::string update;  ///< "ftrl", "adagrad", "rowwise-adagrad" or "sgd"
  double lr = 0.05;    ///< FTRL's alpha, or the rate of the others
  double l1 = 0.0;     ///< FTRL
  double l2 = 0.0;     ///< FTRL
  double beta = 1.0;   ///< FTRL
};

/// Embedding tables stored as one [rows x dim] fp32 matrix whose rows are updated sparsely.
/// Implemented by the embedding modules; the optimizer reaches the weight and the gradient
/// through it, never through dense gradient tensors.
class SparseParameterGroup {
 public:
  virtual ~SparseParameterGroup() = default;
  /// Name within the model ("embedding"); keys the optimizer's state in checkpoints.
  virtual std::string group_name() const = 0;
  virtual int64_t rows() const = 0;
  virtual int64_t dim() const = 0;
  /// The table, [rows x dim] row-major. Ask again after loading weights: loading may move it.
  virtual float* weight_data() = 0;
  /// What the backward passes since the last step left; cleared by the step that applies it.
  virtual SparseGradient& gradient() = 0;
  /// The group's own update rule; null: the run's embedding update.
  virtual const SparseUpdateRule* own_update() const { return nullptr; }
};

}  // namespace aiok::models
