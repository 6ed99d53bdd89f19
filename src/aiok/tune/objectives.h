// What a study optimizes: objectives ("auc:max,train_seconds:min"), thresholds a trial must
// meet to count ("auc>=0.78"), and how a trial's metrics are read: a flat map from metric name
// to number. For `aiok train` trials, TrainMetrics() flattens OUT/metrics.json (valid-split
// quality under the plain names, test-split under test_*); --command trials write the map
// themselves.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace aiok::tune {

struct Objective {
  std::string metric;
  bool maximize = true;
  /// "auc:max".
  std::string ToString() const;
};

struct Threshold {
  std::string metric;
  bool at_least = true;  ///< metric >= value; false: metric <= value
  double value = 0.0;
  /// "auc>=0.78".
  std::string ToString() const;
};

/// "auc:max,train_seconds:min". A direction is required. Errors are kUsage.
std::vector<Objective> ParseObjectives(const std::string& text);
/// "auc>=0.78,train_seconds<=60" (empty: none). Errors are kUsage.
std::vector<Threshold> ParseThresholds(const std::string& text);

/// The objective values of a metric map, in objective order, or nullopt naming the first
/// missing one in *missing.
std::optional<std::vector<double>> ObjectiveValues(const std::vector<Objective>& objectives,
                                                   const nlohmann::json& metrics,
                                                   std::string* missing);

/// How far a metric map is from meeting the thresholds: 0 when it meets them all, else the sum
/// of the relative shortfalls. A threshold metric the map lacks counts as violated by 1.
double Violation(const std::vector<Threshold>& thresholds, const nlohmann::json& metrics);

/// Values turned so that smaller is better (maximized objectives negated).
std::vector<double> Minimized(const std::vector<Objective>& objectives,
                              const std::vector<double>& values);

/// The flat metrics of an `aiok train` metrics.json: auc, logloss, rmse, mae (valid split),
/// test_auc, test_logloss, ..., train_seconds, samples_per_second, steps, bayes_auc.
nlohmann::json TrainMetrics(const nlohmann::json& metrics_json);

/// A flat metric map from one curve line of `aiok train` (curve.jsonl): "valid_auc" becomes
/// "auc"; step, progress and train_seconds are kept.
nlohmann::json TrainCurveMetrics(const nlohmann::json& line);

}  // namespace aiok::tune
