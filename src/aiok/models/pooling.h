// How a list field's embedding rows become one vector, and that pooling for one row read in
// place from a table: what the inference engines share. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aiok/data/feature_batch.h"

namespace aiok::models {

/// How a list field's rows become one vector.
enum class Pooling {
  kSum,   ///< the sum of the rows (an empty list gives zeros)
  kMean,  ///< their mean (an empty list gives zeros)
};
/// "sum", "mean"; anything else throws Error(kConfig).
Pooling ParsePooling(const std::string& name);
const char* PoolingName(Pooling pooling);

/// How a model that pools every list field pools each of `layout`'s: sequences by their mean
/// (the order is not read), multi-categorical fields by `multi_categorical` (the model's
/// --pooling option). Also gives each list field's table size.
void PoolListFields(const data::FeatureLayout& layout, const std::string& multi_categorical,
                    std::vector<int64_t>* sizes, std::vector<Pooling>* pooling);

/// A list field's table inside a table-batched weight: where its rows start and how many.
struct ListTable {
  const float* weight = nullptr;  ///< the whole [rows x dim] weight
  int64_t offset = 0;             ///< first row of this field's table
  int64_t rows = 0;               ///< rows of this field's table
  int64_t dim = 0;
};

/// Pools row `row` of `list` from `table` into out[dim]. An id outside the table throws
/// Error(kInvalidInput) naming `who` and the list field `field`.
void PoolListRow(const ListTable& table, const data::JaggedIds& list, int64_t row,
                 Pooling pooling, float* out, const char* who, int64_t field);

}  // namespace aiok::models
