#include "aiok/models/pooling.h"

#include <algorithm>

#include "aiok/core/error.h"

namespace aiok::models {

Pooling ParsePooling(const std::string& name) {
  if (name == "sum")
    return Pooling::kSum;
  if (name == "mean")
    return Pooling::kMean;
  Throw(ErrorKind::kConfig, "unknown pooling '{}' (valid: sum, mean)", name);
}

const char* PoolingName(Pooling pooling) { return pooling == Pooling::kSum ? "sum" : "mean"; }

void PoolListFields(const data::FeatureLayout& layout, const std::string& multi_categorical,
                    std::vector<int64_t>* sizes, std::vector<Pooling>* pooling) {
  for (const data::JaggedFeature& field : layout.jagged) {
    sizes->push_back(field.cardinality);
    pooling->push_back(field.kind == data::JaggedFeature::Kind::kSequence
                           ? Pooling::kMean
                           : ParsePooling(multi_categorical));
  }
}

void PoolListRow(const ListTable& table, const data::JaggedIds& list, int64_t row,
                 Pooling pooling, float* out, const char* who, int64_t field) {
  const int64_t d = table.dim;
  std::fill(out, out + d, 0.0f);
  for (int64_t p = list.offsets[row]; p < list.offsets[row + 1]; ++p) {
    const int64_t id = list.values[p];
    AIOK_CHECK(id >= 0 && id < table.rows, ErrorKind::kInvalidInput,
               "{}: id {} of list field {} is outside its table of {} rows", who, id, field,
               table.rows);
    const float* src = table.weight + (table.offset + id) * d;
    for (int64_t k = 0; k < d; ++k)
      out[k] += src[k];
  }
  const int64_t length = list.length(row);
  if (pooling == Pooling::kMean && length > 0) {
    const float scale = 1.0f / static_cast<float>(length);
    for (int64_t k = 0; k < d; ++k)
      out[k] *= scale;
  }
}

}  // namespace aiok::models
