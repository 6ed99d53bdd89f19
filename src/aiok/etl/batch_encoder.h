// The per-batch and per-shard work of the ETL on Criteo-layout rows.
//
// Pass 1 (Encode, on the reader threads, batches side by side): fit the first fit phase on the
// train rows and turn every row into what the shards hold — labels, dense values (final
// float32; or raw float64 when a dense chain still needs fitting) and categorical ids (or,
// for operators that fit a dictionary, codes to be mapped to ids once the fit is done).
// Later fit phases (FitDensePhase) read the raw dense values back from the train shards, and
// FinishShard maps codes to ids in place and turns raw dense values into final ones. The
// output files are the only copy of the data between passes: memory stays bounded and the
// input is read once.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "aiok/core/progress.h"
#include "aiok/data/criteo_reader.h"
#include "aiok/data/dataset.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

/// A batch as pass 1 writes it, row-major.
struct EncodedBatch {
  std::vector<int64_t> lines;  ///< 0-based source line of each row
  std::vector<uint8_t> labels;
  std::vector<float> dense;          ///< rows x dense, when the dense values are final
  std::vector<double> raw_dense;     ///< rows x dense, when a dense chain still needs fitting
  std::vector<int32_t> categorical;  ///< rows x categorical: ids, or codes where coded()
};

class BatchEncoder {
 public:
  /// Binds to a pipeline whose fit-free operators are already finished.
  explicit BatchEncoder(Pipeline& pipeline);

  /// Whether dense values leave pass 1 raw (some dense chain needs fitting).
  bool raw_dense() const { return raw_dense_; }
  /// Per categorical column: whether pass 1 writes codes (to be mapped by FinishShard).
  const std::vector<bool>& coded() const { return coded_; }

  /// Fits phase 0 on the batch's training rows (source line below `train_end_line`) and
  /// encodes all its rows. Safe to call for several batches at once (each column is fitted
  /// under its own lock).
  EncodedBatch Encode(data::CriteoBatch& batch, int64_t train_end_line);

 private:
  Pipeline& pipeline_;
  bool raw_dense_ = false;
  std::vector<bool> coded_;
  std::vector<std::mutex> column_locks_;
};

/// Fits fit phase `phase` (>= 1) of the dense chains from the raw dense values of the train
/// split's shards in `dir`, columns in parallel, then finishes that phase.
void FitDensePhase(Pipeline& pipeline, int phase, const std::string& dir,
                   const data::SplitInfo& train, int threads);

/// Completes the shards written by pass 1 once the pipeline is fitted: codes become ids in the
/// categorical files (in place), raw dense values become the float32 dense files. Works in
/// blocks of rows on `threads` threads; `progress` (may be null) counts rows.
void FinishShards(const Pipeline& pipeline, const BatchEncoder& encoder, const std::string& dir,
                  const std::vector<const data::ShardInfo*>& shards, int threads,
                  Progress* progress);

/// Finishes fit phase `phase` of every chain (vocabularies sorted), columns in parallel.
void FinishFitPhase(Pipeline& pipeline, int phase, int threads);

}  // namespace aiok::etl
