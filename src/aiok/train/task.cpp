#include "aiok/train/task.h"

#include <fmt/format.h>

#include <vector>

#include "aiok/core/metrics.h"

namespace aiok::train {

double SplitMetrics::score() const { return task == data::Task::kBinary ? auc : -rmse; }

std::string SplitMetrics::Summary() const {
  return task == data::Task::kBinary ? fmt::format("AUC {:.4f}", auc)
                                     : fmt::format("RMSE {:.4f}", rmse);
}

nlohmann::json SplitMetrics::ToJson() const {
  if (task == data::Task::kRegression)
    return {{"rows", rows}, {"rmse", rmse}, {"mae", mae}};
  nlohmann::json json = {
      {"rows", rows}, {"auc", auc}, {"logloss", logloss}, {"accuracy", accuracy}};
  if (bayes_auc >= 0) {
    json["bayes_auc"] = bayes_auc;
    json["gap_to_bayes"] = bayes_auc - auc;
  }
  return json;
}

SplitMetrics ComputeMetrics(data::Task task, const float* predictions, const float* labels,
                            size_t n, const float* truth) {
  SplitMetrics m;
  m.task = task;
  m.rows = static_cast<int64_t>(n);
  if (task == data::Task::kRegression) {
    m.rmse = RootMeanSquaredError(predictions, labels, n);
    m.mae = MeanAbsoluteError(predictions, labels, n);
    return m;
  }
  std::vector<uint8_t> classes(n);
  for (size_t i = 0; i < n; ++i)
    classes[i] = labels[i] != 0.0f;
  m.auc = BinaryAuc(predictions, classes.data(), n);
  m.logloss = BinaryLogLoss(predictions, classes.data(), n);
  m.accuracy = BinaryAccuracy(predictions, classes.data(), n);
  if (truth != nullptr)
    m.bayes_auc = BinaryAuc(truth, classes.data(), n);
  return m;
}

const char* ScoreName(data::Task task) {
  return task == data::Task::kBinary ? "valid AUC" : "valid RMSE";
}

}  // namespace aiok::train
