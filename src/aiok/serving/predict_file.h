// `aiok predict`: scores a file of raw rows with a model bundle, writing one probability per
// input line, in order.
#pragma once

#include <cstdint>
#include <string>

#include "aiok/core/context.h"
#include "aiok/data/on_error.h"

namespace aiok::serving {

struct PredictOptions {
  std::string bundle_dir;
  std::string input;  ///< TSV/CSV or Parquet that the bundle's input schema describes (label optional)
  std::string out;    ///< one probability per line
  int64_t batch_size = 16384;
  std::string precision = "fp32";
  data::OnError on_error = data::OnError::kFail;
};

struct PredictSummary {
  int64_t lines = 0;     ///< input lines (rows for Parquet)
  int64_t rows = 0;      ///< scored
  int64_t rejected = 0;  ///< written as "nan" and listed in OUT.rejects.tsv (kSkip)
  double seconds = 0.0;
  std::string precision;
};

/// Scores `options.input`. Line i of the output holds the probability of line i of the input;
/// under OnError::kSkip a bad line gets "nan" and a line in `out`.rejects.tsv (line, reason).
/// Both files are written under temporary names and renamed when complete.
PredictSummary PredictFile(const PredictOptions& options, const RunContext& ctx);

}  // namespace aiok::serving
