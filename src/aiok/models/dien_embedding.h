// DIEN's embedding tables: one table-batched weight whose tables are looked up both by one-id
// columns (the target item, the user, ...) and position by position by behaviour sequences
// (the clicked items, unpooled: the GRU reads each event). A target field and the history of
// the same kind of id share one table, so the item the user clicked and the item shown are
// the same row.
//
// Like FusedEmbedding (models/fused_embedding.h), backward builds no gradient tensor: it
// coalesces the gradients of every lookup — columns and sequence events together — into
// (unique ids, summed rows) in gradient(), for the sparse optimizer. A row's gradients are
// summed in lookup order (columns row by row, then events in packed order), so the result does
// not depend on the thread count.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "aiok/data/feature_batch.h"
#include "aiok/models/sparse_gradient.h"

namespace aiok::models {

/// What one batch looks up: rows of one-id columns, and sequence events in a caller's order.
struct DienLookup {
  int64_t rows = 0;
  const int32_t* ids = nullptr;            ///< [rows x column_tables.size()], row-major
  std::vector<int64_t> column_tables;      ///< the table each column looks up
  std::vector<data::JaggedIds> sequences;  ///< the sequence fields, over `rows` rows
  std::vector<int64_t> sequence_tables;    ///< the table each sequence looks up
  /// Event e reads, in every sequence s, sequences[s].values[offsets[event_rows[e]] +
  /// event_positions[e]]: all sequences are read at the same (row, position) pairs.
  std::vector<int32_t> event_rows;
  std::vector<int32_t> event_positions;

  int64_t columns() const { return static_cast<int64_t>(column_tables.size()); }
  int64_t events() const { return static_cast<int64_t>(event_rows.size()); }
};

struct DienEmbeddingOptions {
  std::vector<int64_t> table_sizes;  ///< rows per table
  int64_t dim = 18;                  ///< embedding width
  std::string group_name = "embedding";
};

class DienEmbeddingImpl : public torch::nn::Module, public SparseParameterGroup {
 public:
  explicit DienEmbeddingImpl(DienEmbeddingOptions options);

  /// Each table uniform in +-1/sqrt(rows), as FusedEmbedding starts.
  void reset();

  /// -> (columns [rows, columns, dim], events [events, sequences, dim]). In training mode with
  /// grad enabled, backward leaves the gradient in gradient(); the memory `lookup` points into
  /// must stay alive until then. An id outside its table throws Error(kInvalidInput).
  std::pair<torch::Tensor, torch::Tensor> forward(DienLookup lookup);

  /// The same lookup outside autograd.
  std::pair<torch::Tensor, torch::Tensor> Gather(const DienLookup& lookup) const;

  /// What backward does, given the gradients of both outputs. Public for tests.
  void AccumulateGradient(const DienLookup& lookup, const torch::Tensor& grad_columns,
                          const torch::Tensor& grad_events);

  const DienEmbeddingOptions& options() const { return options_; }
  const std::vector<int64_t>& offsets() const { return offsets_; }

  /// All tables stacked: [total rows, dim]. Table t starts at row offsets()[t].
  torch::Tensor weight;

  // SparseParameterGroup
  std::string group_name() const override { return options_.group_name; }
  int64_t rows() const override { return weight.size(0); }
  int64_t dim() const override { return options_.dim; }
  float* weight_data() override { return weight.data_ptr<float>(); }
  SparseGradient& gradient() override { return gradient_; }

 private:
  void Coalesce(const DienLookup& lookup, const float* grad_columns, const float* grad_events,
                SparseGradient* out);

  DienEmbeddingOptions options_;
  std::vector<int64_t> offsets_;
  torch::Tensor trigger_;  // requires grad, so that autograd calls the coalescing backward
  SparseGradient gradient_;
  SparseGradient second_;
};
TORCH_MODULE(DienEmbedding);

}  // namespace aiok::models
