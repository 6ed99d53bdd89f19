// What the task (data::Task) decides in training: the loss (loss.h) and the metrics a split is
// scored with — binary: AUC, logloss, accuracy (and the Bayes-optimal AUC when the data knows
// its true probabilities); regression: RMSE and MAE. Also which metric ranks evaluations for
// --keep-best, --patience and --target-auc. Torch-free.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "aiok/data/feature_batch.h"

namespace aiok::train {

/// Metrics of one split.
struct SplitMetrics {
  data::Task task = data::Task::kBinary;
  int64_t rows = 0;
  double auc = 0.0;         ///< binary
  double logloss = 0.0;     ///< binary
  double accuracy = 0.0;    ///< binary, at a 0.5 threshold
  double bayes_auc = -1.0;  ///< binary, from the dataset's true probabilities; -1 when unknown
  double rmse = 0.0;        ///< regression
  double mae = 0.0;         ///< regression

  /// The metric evaluations are ranked by, higher is better: AUC, or -RMSE.
  double score() const;
  /// "AUC 0.8012" or "RMSE 1.234", for progress lines.
  std::string Summary() const;
  /// The keys of the task: rows, auc, logloss, accuracy (bayes_auc, gap_to_bayes when known),
  /// or rows, rmse, mae.
  nlohmann::json ToJson() const;
};

/// Metrics of `predictions` (probabilities for a binary task, values for regression) against
/// `labels`, n rows. `truth` (binary, may be null): the rows' true probabilities, whose AUC is
/// the Bayes-optimal one.
SplitMetrics ComputeMetrics(data::Task task, const float* predictions, const float* labels,
                            size_t n, const float* truth = nullptr);

/// The name of the ranking metric ("valid AUC", "valid RMSE") for messages.
const char* ScoreName(data::Task task);

}  // namespace aiok::train
