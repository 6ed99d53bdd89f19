// `aiok etl` on Criteo-layout input: fit a pipeline on the train split, transform every split,
// and write a dataset directory (data/dataset.h).
//
// Passes: the input is parsed once while the first fit phase runs on train rows; parsed
// batches are kept in memory while they fit in `cache_mb`, otherwise later passes (further
// fit phases, the transform) parse the input again — so any size streams in bounded memory.
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
  int64_t cache_mb = 4096;  ///< memory for parsed batches between passes
};

struct EtlSummary {
  int64_t lines = 0;
  int64_t rows = 0;
  int64_t rejected = 0;
  int64_t input_bytes = 0;
  int input_passes = 0;  ///< times the input file was read
  double seconds = 0.0;
};

/// Runs the pipeline. The output appears under `out_dir` only when complete: it is written
/// to a temporary directory beside it and renamed.
EtlSummary RunCriteoEtl(const PipelineSpec& spec, const EtlOptions& options, const RunContext& ctx);

}  // namespace aiok::etl
