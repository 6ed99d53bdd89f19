// The features of a batch of rows, in one form from the loader to the trainer, the inference
// engines and the server: labels, a dense block, categorical ids, and variable-length fields
// (multi-categorical lists and behaviour sequences) as offsets plus values — the shape
// embedding-bag kernels take (TorchRec's KeyedJaggedTensor, Triton's __values/__offsets).
//
// A FeatureBatch is a view: its pointers may point into mmap'd dataset shards (no copy) or
// into `storage`, which the batch then keeps alive. Fixed-width blocks are row-major, so a
// batch of consecutive rows of a shard is one pointer.
//
// FeatureLayout says what a dataset's batches hold: which fields, in which order, with what
// cardinality. Models are built from it, never from field counts written into the code.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/json_fields.h"
#include "aiok/core/uninitialized_vector.h"

namespace aiok::data {

/// What the label is and so which loss and metrics apply.
enum class Task {
  kBinary,      ///< labels 0/1; logistic loss; AUC, logloss, accuracy
  kRegression,  ///< real labels; squared loss; RMSE, MAE
};
/// "binary", "regression".
const char* TaskName(Task task);
/// Parses a TaskName; anything else throws Error(kConfig) naming `where`.
Task ParseTask(const std::string& text, const std::string& where);

/// A categorical field: one id per row, in [0, cardinality).
struct CategoricalFeature {
  std::string name;
  int64_t cardinality = 0;
};

/// A variable-length field: a list of ids per row, each in [0, cardinality).
struct JaggedFeature {
  enum class Kind {
    kMultiCategorical,  ///< an unordered set of values (genres of a film), pooled by models
    kSequence,          ///< ordered events, oldest first (a user's clicked items), for DIEN
  };
  std::string name;
  Kind kind = Kind::kMultiCategorical;
  int64_t cardinality = 0;
  int64_t max_length = 0;  ///< longest list the dataset holds (0: unknown)
};
const char* JaggedKindName(JaggedFeature::Kind kind);

/// The fields of a dataset's FeatureBatches, in batch order.
struct FeatureLayout {
  Task task = Task::kBinary;
  std::vector<std::string> dense;  ///< columns of the dense block
  std::vector<CategoricalFeature> categorical;
  std::vector<JaggedFeature> jagged;
  bool has_weight = false;  ///< batches carry per-row sample weights

  int64_t dense_width() const { return static_cast<int64_t>(dense.size()); }
  int64_t categorical_width() const { return static_cast<int64_t>(categorical.size()); }
  std::vector<int64_t> cardinalities() const;

  nlohmann::json ToJson() const;
  /// Errors (kInvalidInput) name the file and the field.
  static FeatureLayout FromJson(const JsonField& json);
};

/// One variable-length field of a batch: row r's ids are values[offsets[r] .. offsets[r+1]).
/// offsets has rows + 1 entries and need not start at 0 (a view into a larger block).
struct JaggedIds {
  const int64_t* offsets = nullptr;
  const int32_t* values = nullptr;

  int64_t length(int64_t row) const { return offsets[row + 1] - offsets[row]; }
};

/// Buffers that a FeatureBatch's views point into when they are not views into shards.
/// Fixed-width buffers are not zeroed on resize: whoever sizes them writes every element.
struct FeatureBatchStorage {
  UninitializedVector<float> labels;
  UninitializedVector<float> weights;
  UninitializedVector<float> dense;
  UninitializedVector<int32_t> categorical;
  std::vector<std::vector<int64_t>> offsets;  ///< per jagged field
  std::vector<std::vector<int32_t>> values;   ///< per jagged field
};

struct FeatureBatch {
  int64_t index = 0;  ///< position in the epoch (loader), or 0
  int64_t rows = 0;
  const float* labels = nullptr;   ///< [rows]; null for rows to score
  const float* weights = nullptr;  ///< [rows]; null: every row weighs 1
  const float* dense = nullptr;    ///< [rows x layout.dense_width()], row-major
  const int32_t* categorical = nullptr;  ///< [rows x layout.categorical_width()], row-major
  std::vector<JaggedIds> jagged;         ///< one per layout.jagged field, in order
  /// Owner of the buffers the views point into (null when they are all views into shards).
  std::shared_ptr<FeatureBatchStorage> storage;

  /// Points the views at `storage`'s buffers (those that are not empty).
  void ViewStorage();
  /// Rows [begin, begin + count) as a view into this batch (which must outlive it).
  FeatureBatch Slice(int64_t begin, int64_t count, const FeatureLayout& layout) const;
};

/// The rows of `parts` one after another, in a batch that owns its buffers (labels and
/// weights only when every part has them).
FeatureBatch ConcatFeatureBatches(const std::vector<const FeatureBatch*>& parts,
                                  const FeatureLayout& layout);

/// Rows `rows` (indices into `batch`, any order, repeats allowed) of `batch`, in a batch that
/// owns its buffers: for splits that interleave, sampling and filtering.
FeatureBatch GatherFeatureRows(const FeatureBatch& batch, const FeatureLayout& layout,
                               const std::vector<int64_t>& rows);

/// A batch that owns its buffers, sized for `rows` rows of `layout`, for callers that fill
/// features themselves (serving, tests): labels, dense and categorical uninitialized, weights
/// 1, every list empty (offsets 0, no values).
FeatureBatch AllocateFeatureBatch(const FeatureLayout& layout, int64_t rows, bool with_labels);

}  // namespace aiok::data
