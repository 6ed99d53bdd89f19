// The tuning stage of `aiok run --tune TRIALS`: a study of `aiok train` trials (separate
// processes, as `aiok tune` runs them) on the run's dataset, over the model's built-in search
// space, with the run's own training settings fixed. The final training then takes the chosen
// trial's values.
//
// Which trial: with one objective (auc:max) the best validation AUC; with two
// (auc:max,train_seconds:min) the fastest trial whose AUC is within `auc_tolerance` of the best
// one. A knee of the Pareto front was the other candidate: it depends on how the two axes are
// scaled against each other, where a tolerance says in AUC what is given up for speed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "aiok/core/context.h"
#include "aiok/workflow/run_config.h"

namespace aiok::workflow {

/// Runs (or resumes) the study in `dir` (study.db, trials/) for `config` on `dataset_dir`, and
/// returns the stage's summary: study path, trial counts, the rule, and the chosen trial
/// (number, parameters, the aiok train options they give, its metrics). `key` identifies the
/// stage's inputs: a study made under another key is started over. Throws Error(kInvalidInput)
/// when no trial completed.
nlohmann::json RunTuningStage(const RunConfig& config, const nlohmann::json& key,
                              const std::string& dataset_dir, const std::string& dir,
                              const RunContext& ctx);

/// The run's training options that every trial gets: the run's train section where it differs
/// from the declared defaults, minus the space's parameters and what trials set themselves
/// (evaluation spacing, checkpoints). `batch_size` is the batch the run would train with.
nlohmann::json FixedTrialOptions(const RunConfig& config, const nlohmann::json& space_spec,
                                 int64_t batch_size);

}  // namespace aiok::workflow
