// Scores one split of a dataset's raw source rows through a model bundle — the path `aiok
// predict` and `aiok serve` take: raw fields, the bundle's fitted ETL transform, the model.
// `aiok run` uses it to check the bundle it ships against the trainer's own evaluation.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "aiok/core/context.h"

namespace aiok::workflow {

/// Metrics of the bundle on `split` of `dataset_dir` (its source file, the split's lines):
/// rows, auc, logloss, accuracy, a 10-bin calibration table (mean predicted vs observed
/// click rate by predicted-probability decile), and bayes_auc when the dataset has truth.
nlohmann::json EvaluateBundleOnSplit(const std::string& bundle_dir, const std::string& dataset_dir,
                                     const std::string& split, const RunContext& ctx);

}  // namespace aiok::workflow
