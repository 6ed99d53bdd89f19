#include "aiok/etl/row_transformer.h"

#include <cmath>

#include "aiok/core/error.h"

namespace aiok::etl {

RowTransformer::RowTransformer(const Pipeline& pipeline) : pipeline_(pipeline) {
  AIOK_CHECK(pipeline.dense().size() == data::kCriteoDense &&
                 pipeline.categorical().size() == data::kCriteoCategorical,
             ErrorKind::kInvalidInput,
             "the pipeline has {} dense and {} categorical columns; Criteo rows have {} and {}",
             pipeline.dense().size(), pipeline.categorical().size(), data::kCriteoDense,
             data::kCriteoCategorical);
}

void RowTransformer::Transform(const data::CriteoBatch& batch, float* dense, int32_t* ids) const {
  const auto rows = static_cast<size_t>(batch.rows);
  const size_t n_dense = pipeline_.dense().size();
  const size_t n_cat = pipeline_.categorical().size();
  std::vector<double> values(rows);
  for (size_t d = 0; d < n_dense; ++d) {
    const auto& raw = batch.dense[d];
    for (size_t r = 0; r < rows; ++r)
      values[r] = raw[r] == data::kMissingDense ? NAN : static_cast<double>(raw[r]);
    const ColumnChain& chain = pipeline_.dense()[d];
    chain.TransformDensePrefix(values.data(), rows, chain.ops.size());
    for (size_t r = 0; r < rows; ++r)
      dense[r * n_dense + d] = static_cast<float>(values[r]);
  }
  std::vector<int64_t> column_ids(rows);
  for (size_t c = 0; c < n_cat; ++c) {
    pipeline_.categorical()[c].ops[0]->TransformCategorical(batch.category[c].data(), rows,
                                                            column_ids.data());
    for (size_t r = 0; r < rows; ++r)
      ids[r * n_cat + c] = static_cast<int32_t>(column_ids[r]);
  }
}

}  // namespace aiok::etl
