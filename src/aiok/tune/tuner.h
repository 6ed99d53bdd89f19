// Runs a study: W trials at a time as separate processes, each a configuration the sampler
// proposes and the store has not seen; reads their intermediate reports while they run and
// lets the pruner stop them; records everything in the study store. A preempted trial (its
// tune process died, its process was killed from outside, the budget ran out) runs again
// first, so a rerun of the same command resumes the study.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/tune/objectives.h"
#include "aiok/tune/sampler.h"
#include "aiok/tune/search_space.h"
#include "aiok/tune/study_store.h"

namespace aiok::tune {

struct TunerOptions {
  int64_t trials = 20;          ///< trials in the study (all processes together)
  double budget_minutes = 0.0;  ///< wall time of this process (0: none)
  int64_t workers = 1;          ///< trials at once
  std::string sampler = "auto";
  std::string pruner = "auto";
  std::vector<Objective> objectives;
  std::vector<Threshold> thresholds;
  std::string out_dir;           ///< trial directories: OUT/trial-NNNN
  double heartbeat_seconds = 1.0;
  double stale_seconds = 5.0;    ///< a worker silent this long has died
  double stop_grace_seconds = 10.0;  ///< SIGTERM, then SIGKILL after this
  int64_t max_attempts = 3;      ///< starts of one trial before a preemption counts as failure
};

/// How to start one trial, made by the caller (the CLI) from the trial's option values.
struct TrialLaunch {
  std::vector<std::string> argv;
  std::string metrics_file;  ///< JSON object the trial writes when done
  std::string curve_file;    ///< JSON lines written while running ("": none)
  bool train_format = false;  ///< the files are aiok train's metrics.json / curve.jsonl
};
/// (trial, its option values, its directory) -> how to start it.
using LaunchBuilder = std::function<TrialLaunch(const TrialRecord& trial,
                                                const nlohmann::json& options,
                                                const std::string& trial_dir)>;

struct TuneSummary {
  int64_t started = 0, complete = 0, pruned = 0, failed = 0, preempted = 0;
  std::string sampler, sampler_reason, pruner;
  bool study_full = false;       ///< the study has all its trials
  bool space_exhausted = false;  ///< no unseen configuration was found
  bool budget_reached = false;
};

class Tuner {
 public:
  Tuner(std::string study_path, TunerOptions options, SearchSpace space, LaunchBuilder launch,
        RunContext ctx);
  /// Runs until the study has its trials (all final), the budget is spent, or the run is
  /// cancelled (Error kCancelled; running trials are left preempted, to resume). A trial whose
  /// metrics lack an objective ends the run with Error(kConfig) naming it.
  TuneSummary Run();

 private:
  std::string study_path_;
  TunerOptions options_;
  SearchSpace space_;
  LaunchBuilder launch_;
  RunContext ctx_;
};

/// The sampler's view of the study: complete trials scored (pruned ones ranked behind every
/// complete one), running ones pending.
History BuildHistory(const SearchSpace& space, const std::vector<TrialRecord>& trials,
                     const std::vector<Objective>& objectives);

}  // namespace aiok::tune
