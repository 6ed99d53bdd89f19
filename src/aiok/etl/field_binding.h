// How a table's fields become a model's features: which schema fields each pipeline chain
// reads, where its output goes, and where the label and the weight are. The ETL's encoder
// and the serving transform share one binding, so both lay the features out the same way:
//   dense       — the chains that write dense values, in pipeline order (dense fields'
//                 chains, then categorical fields' and derived ones);
//   categorical — the scalar chains that write ids, in the same order, then per timestamp
//                 field its hour of day and day of week ("<name>.hour", "<name>.weekday");
//   jagged      — the multi-categorical and sequence fields' chains, in schema order.
//
// Categorical values become 64-bit keys before their operator sees them: integers as they
// are, strings by a stable 64-bit hash of their bytes, floats by a hash of their bits. The
// one key that marks "missing" (-1) is moved to INT64_MIN, so a value of -1 (or 2^64 - 1)
// stays a value.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "aiok/data/feature_batch.h"
#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

/// Ids of a timestamp's parts: 0 when missing, hours 1..24, weekdays 1..7 (Monday is 1).
constexpr int64_t kHourIds = 1 + 24;
constexpr int64_t kWeekdayIds = 1 + 7;

/// A pipeline chain bound to the schema: what it reads and where its output goes.
struct BoundChain {
  size_t chain = 0;         ///< index in Pipeline::chains()
  std::vector<int> fields;  ///< schema index of each input
  bool list = false;        ///< a list field: a jagged feature
  ColumnKind output = ColumnKind::kDense;
  size_t slot = 0;          ///< index among the dense, categorical or jagged features
};

struct FieldBinding {
  /// `pipeline` was bound to DenseFieldNames(schema) and CategoricalFieldNames(schema).
  /// A list field whose chain does not end in ids is refused (Error(kConfig)).
  FieldBinding(const data::TableSchema& schema, const Pipeline& pipeline);

  std::vector<BoundChain> chains;  ///< one per Pipeline::chains(), in that order
  std::vector<int> time_fields;    ///< schema index per timestamp field
  int label_field = -1;
  int weight_field = -1;
  size_t dense_features = 0;
  size_t scalar_categorical = 0;   ///< categorical features from chains (time parts follow)
  size_t jagged_features = 0;

  /// Categorical features per row: the chains' plus two per timestamp.
  size_t categorical_features() const { return scalar_categorical + 2 * time_fields.size(); }

  /// The layout of the features (cardinalities from the fitted pipeline).
  data::FeatureLayout Layout(const data::TableSchema& schema, const Pipeline& pipeline,
                             data::Task task) const;
};

/// The input columns of `bound`, rows [0, rows) (list fields: all their elements), as a
/// chain reads them: dense values for a dense chain, keys otherwise.
std::vector<ChainColumn> ChainInputs(const BoundChain& bound, const ColumnChain& chain,
                                     const data::TableBatch& batch, size_t rows);

/// The dense and categorical (incl. list) field names of `schema`, in schema order, as the
/// pipeline binds them.
std::vector<std::string> DenseFieldNames(const data::TableSchema& schema);
std::vector<std::string> CategoricalFieldNames(const data::TableSchema& schema);

/// A stable 64-bit hash of a string's bytes.
uint64_t HashBytes(std::string_view text);

/// 64-bit keys of a categorical column's values [begin, end) (scalars: rows; lists: elements),
/// kMissingValue where a scalar is missing.
void CategoricalKeys(const data::ColumnValues& column, size_t begin, size_t end, int64_t* keys);

/// The values of a dense column's rows [begin, end) as doubles, NaN where missing.
void DenseValues(const data::ColumnValues& column, size_t begin, size_t end, double* values);

/// The hour and weekday ids of rows [0, rows) of a timestamp column, written with `stride`
/// between rows (so they can go straight into a row-major block).
void TimeParts(const data::ColumnValues& column, size_t rows, size_t stride, int32_t* hours,
               int32_t* weekdays);

}  // namespace aiok::etl
