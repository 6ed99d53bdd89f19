// The per-batch work of the ETL on Criteo-layout rows.
//
// Pass 1 (Encode, on the reader threads, batches side by side): turn every row into labels,
// dense values (final float32; or raw float64 when a dense chain needs fitting) and
// categorical ids (or, for operators that fit a dictionary, codes to be mapped to ids once
// the fit is done, counting each row as a training row), column by column. The batches wait
// in a BatchStore. Once the read has told where the train split ends, Uncount takes the
// other rows back out of the counts and FitDensePhase fits the dense chains from the stored
// raw values. Finish then maps codes to ids, turns raw dense values into final ones and lays
// the rows out as the shards hold them, so each shard is written once.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "aiok/core/uninitialized_vector.h"
#include "aiok/data/criteo_reader.h"
#include "aiok/data/feature_batch.h"
#include "aiok/etl/batch_store.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

/// A batch in its final form, as the shards hold it.
struct FinishedBatch {
  std::vector<int64_t> lines;   ///< 0-based source line of each row
  data::FeatureBatch features;  ///< owns its buffers
};

class BatchEncoder {
 public:
  /// Binds to a pipeline whose fit-free operators are already finished.
  explicit BatchEncoder(Pipeline& pipeline);

  /// Encodes the batch's rows, fitting the categorical dictionaries on all of them. Safe to
  /// call for several batches at once (each column is fitted under its own lock).
  EncodedBatch Encode(data::CriteoBatch& batch);

  /// Takes the stored rows whose source line is `train_end_line` or later back out of the
  /// categorical counts that Encode made, columns in parallel on `threads`.
  void Uncount(const BatchStore& store, int64_t train_end_line, int threads);

  /// Once the pipeline is fitted: codes become ids, raw dense values final ones, and the
  /// columns rows. Safe to call for several batches at once.
  FinishedBatch Finish(EncodedBatch batch) const;

 private:
  Pipeline& pipeline_;
  bool raw_dense_ = false;   // dense values leave pass 1 raw (some dense chain needs fitting)
  std::vector<bool> coded_;  // per categorical column: pass 1 leaves codes for Finish to map
  std::vector<std::mutex> column_locks_;
};

/// How many of a batch's rows (their source `lines`, ascending) come before line `limit`.
size_t RowsBelow(const std::vector<int64_t>& lines, int64_t limit);

/// Fits fit phase `phase` of the dense chains from the raw dense values of the
/// stored batches' train rows (source line below `train_end_line`), columns in parallel, then
/// finishes that phase.
void FitDensePhase(Pipeline& pipeline, int phase, const BatchStore& store, int64_t train_end_line,
                   int threads);

/// Finishes fit phase `phase` of every chain (vocabularies sorted), columns in parallel.
void FinishFitPhase(Pipeline& pipeline, int phase, int threads);

}  // namespace aiok::etl
