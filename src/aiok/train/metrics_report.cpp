#include "aiok/train/metrics_report.h"

#include <fstream>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"

namespace aiok::train {
namespace {

nlohmann::json SecondsOrNull(double seconds) {
  return seconds >= 0 ? nlohmann::json(seconds) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json MetricsJson(const TrainResult& result, const RunRecord& record) {
  return {{"task", data::TaskName(result.task)},
          {"model", record.model},
          {"architecture", record.architecture},
          {"config", record.config},
          {"seed", record.seed},
          {"threads", record.threads},
          {"precision", record.precision},
          {"cpu_native_bf16", record.cpu_native_bf16},
          {"train",
           {{"steps", result.steps},
            {"samples", record.samples},
            {"wall_seconds", result.train_seconds},
            {"samples_per_second", result.samples_per_second},
            {"final_loss", record.final_loss}}},
          {"time_to_target_seconds", SecondsOrNull(result.seconds_to_target)},
          {"wall_time_to_target_seconds", SecondsOrNull(result.wall_seconds_to_target)},
          {"best_step", result.best_step},
          {"restored_best", result.restored_best},
          {"stopped_early", result.stopped_early},
          {"valid", result.valid.ToJson()},
          {"test", result.test.ToJson()},
          {"curve", record.curve}};
}

nlohmann::json CurvePoint(int64_t step, double train_seconds, const SplitMetrics& valid) {
  nlohmann::json point = {{"step", step}, {"train_seconds", train_seconds}};
  const nlohmann::json metrics = valid.ToJson();  // items() must not outlive it
  for (const auto& [key, value] : metrics.items()) {
    if (key != "rows" && key != "bayes_auc" && key != "gap_to_bayes")
      point["valid_" + key] = value;
  }
  return point;
}

void AppendCurvePoint(const std::string& out_dir, const nlohmann::json& point) {
  const std::string path = out_dir + "/curve.jsonl";
  std::ofstream out(path, std::ios::app);
  out << point.dump() << '\n';
  out.flush();
  AIOK_CHECK(out.good(), ErrorKind::kIo, "cannot append to '{}'", path);
}

void WriteMetrics(const std::string& out_dir, const nlohmann::json& metrics) {
  WriteFileAtomic(out_dir + "/metrics.json", metrics.dump(2) + "\n");
}

}  // namespace aiok::train
