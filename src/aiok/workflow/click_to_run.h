// `aiok run`: from raw data (or built-in synthetic data) to a served model in one command.
//
// Stages, each with its progress and time: datagen (only without input data) -> etl -> tune
// (only with tune.trials > 0: run_tuning.h) -> train -> bundle -> evaluate -> report. The
// bundle is evaluated rather than the bare model so that the check covers exactly what `aiok
// predict` and `aiok serve` will run.
//
// Everything lands in DIR: run.yaml (the effective configuration), data/ (synthetic data),
// dataset/, tune/ (study.db and the trials), model/, bundle/, evaluation.json, report.md,
// report.html, report.json and run_state.json — the record of each finished stage with the
// key of its inputs and config. A rerun skips a stage whose key is unchanged and whose outputs
// exist; an interrupted tuning resumes its study and an interrupted training its last
// checkpoint.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/workflow/run_config.h"

namespace aiok::workflow {

struct StageOutcome {
  std::string name;
  std::string status;  ///< "ran", "resumed" or "skipped"
  double seconds = 0.0;
};

struct RunOutcome {
  std::vector<StageOutcome> stages;
  std::string bundle_dir;
  nlohmann::json report;  ///< what DIR/report.json holds
};

/// Runs every stage into `out_dir`. Throws Error(kIo) if `out_dir` holds something that is not
/// an aiok run.
RunOutcome ClickToRun(const RunConfig& config, const std::string& out_dir, const RunContext& ctx);

}  // namespace aiok::workflow
