// OUT/metrics.json: what a training run did and how well the model scores — read by aiok
// bundle, aiok run's report and the benchmarks. Torch-free.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/train/trainer.h"

namespace aiok::train {

/// What metrics.json reports besides the TrainResult.
struct RunRecord {
  std::string model;
  nlohmann::json architecture;
  nlohmann::json config;  ///< every train, loader, optimizer and model option
  uint64_t seed = 0;
  int threads = 1;
  std::string precision;  ///< "fp32" or "bf16"
  bool cpu_native_bf16 = false;
  int64_t samples = 0;                ///< trained on, counting steps before a resume
  double final_loss = 0.0;            ///< running average of the step losses
  std::vector<nlohmann::json> curve;  ///< one point per valid evaluation
};

/// The metrics.json document: task, model, architecture, config, seed, threads, precision,
/// cpu_native_bf16, train {steps, samples, wall_seconds, samples_per_second, final_loss},
/// time_to_target_seconds, wall_time_to_target_seconds, best_step, restored_best,
/// stopped_early, valid, test, curve.
nlohmann::json MetricsJson(const TrainResult& result, const RunRecord& record);

/// One curve point: step, train_seconds and the valid split's metrics ("valid_auc", ...).
nlohmann::json CurvePoint(int64_t step, double train_seconds, const SplitMetrics& valid);

/// Appends one curve point as a line to OUT/curve.jsonl and flushes it, so that a process
/// watching the run (aiok tune's pruner) sees the validation curve while it is written.
void AppendCurvePoint(const std::string& out_dir, const nlohmann::json& point);

/// Writes OUT/metrics.json atomically.
void WriteMetrics(const std::string& out_dir, const nlohmann::json& metrics);

}  // namespace aiok::train
