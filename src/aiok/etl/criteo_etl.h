// `aiok etl` on Criteo-layout input: fit a pipeline on the train split, transform every split,
// and write a dataset directory (data/dataset.h).
//
// The input is read once (etl/batch_encoder.h): pass 1 parses, fits on the train rows and
// writes the shards — categorical codes where ids wait for the fit, raw dense values where
// a dense chain still needs fitting — and pass 2 finishes the shards in place. Memory stays
// bounded whatever the input size.
#pragma once

#include <string>

#include "aiok/core/context.h"
#include "aiok/data/criteo_reader.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

struct EtlOptions {
  std::string input;    ///< Criteo TSV (or, by extension .parquet, Parquet) file
  std::string out_dir;  ///< dataset directory to write
  data::OnError on_error = data::OnError::kFail;
  int64_t shard_rows = int64_t{1} << 20;
  std::string split_rule = "kaggle";  ///< see data::SplitRule
  /// Bytes of encoded rows kept in memory between the passes; the rest is spilled to a file
  /// in the output directory. 0: DefaultEtlMemoryBudget().
  int64_t memory_budget = 0;
  /// Bytes of TSV input per parallel batch (0: the reader's default).
  int64_t range_bytes = 0;
};

struct EtlSummary {
  int64_t lines = 0;
  int64_t rows = 0;
  int64_t rejected = 0;
  int64_t input_bytes = 0;
  double seconds = 0.0;
};

/// Runs the pipeline. The output appears under `out_dir` only when complete: it is written
/// to a temporary directory beside it and renamed.
EtlSummary RunCriteoEtl(const PipelineSpec& spec, const EtlOptions& options, const RunContext& ctx);

}  // namespace aiok::etl
