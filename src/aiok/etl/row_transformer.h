// Applies a fitted pipeline to parsed raw rows: what prediction and serving do to rows as they
// arrive, so that a model sees exactly the features it was trained on. The ETL's own passes
// (batch_encoder.h) reach the same values through codes; tests hold the two equal.
#pragma once

#include <cstdint>
#include <vector>

#include "aiok/data/criteo_reader.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

class RowTransformer {
 public:
  /// `pipeline` must be fitted (Pipeline::LoadState) and outlive the transformer.
  explicit RowTransformer(const Pipeline& pipeline);

  int dense_columns() const { return static_cast<int>(pipeline_.dense().size()); }
  int categorical_columns() const { return static_cast<int>(pipeline_.categorical().size()); }

  /// Transforms the batch's rows into row-major dense [rows x dense] float32 and ids
  /// [rows x categorical] int32, the layout of the dataset shards. Missing dense values reach
  /// the chains as NaN; unseen categories get the rare id.
  void Transform(const data::CriteoBatch& batch, float* dense, int32_t* ids) const;

 private:
  const Pipeline& pipeline_;
};

}  // namespace aiok::etl
