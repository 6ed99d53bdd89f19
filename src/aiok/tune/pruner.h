// Pruners stop a running trial early from its intermediate reports (for `aiok train`, the
// valid-split curve it writes as it trains). Reports are compared across trials by progress
// (the fraction of each trial's planned work) when the trial reports it, so trials with other
// batch sizes or step counts line up; else by step.
//
//   median  stop when the trial's best so far is worse than the median of the finished
//           trials' best at the same progress (single objective: the first one reported)
//   asha    asynchronous successive halving: at rungs 1/9 and 1/3 of the run (reduction 3) a
//           trial continues only within the top third of the trials that reached that rung
//   hyperband  ASHA in four brackets (Li et al. 2018): a trial's bracket, a hash of its
//           number, sets its first rung at 1/27, 1/9, 1/3 of the run or none (the bracket that
//           runs to the end), and it is compared with its own bracket only. Brackets get trials
//           in Hyperband's proportions (27 : 12 : 6 : 4), so the aggressive bracket explores
//           many configurations while the cautious ones protect slow starters
//   pareto  multi-objective: each objective is projected to the end of the run (time-like
//           metrics by progress, quality metrics by the finished trials' typical gain from
//           that point); the trial stops when a finished feasible trial dominates the
//           projection, or when the projection misses a threshold
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aiok/tune/objectives.h"
#include "aiok/tune/study_store.h"

namespace aiok::tune {

struct PruneInput {
  const TrialRecord* trial = nullptr;               ///< running, with reports
  const std::vector<TrialRecord>* finished = nullptr;  ///< complete and pruned, with reports
  const std::vector<Objective>* objectives = nullptr;
  const std::vector<Threshold>* thresholds = nullptr;
};

struct PruneDecision {
  bool prune = false;
  std::string reason;
};

class Pruner {
 public:
  virtual ~Pruner() = default;
  virtual PruneDecision Check(const PruneInput& input) = 0;
};

/// none, median, asha, hyperband, pareto. Unknown names throw Error(kUsage) listing them.
std::unique_ptr<Pruner> MakePruner(const std::string& name);
std::vector<std::string> PrunerNames();
/// median for one objective, pareto for more.
std::string DefaultPruner(size_t objectives);

/// Hyperband's largest bracket: rungs at 1/27, 1/9, 1/3 of the run.
constexpr int kHyperbandMaxRungs = 3;
/// The Hyperband bracket of a trial as its number of rungs (kHyperbandMaxRungs .. 0).
int HyperbandRungs(int64_t trial_number);

/// Where a report sits on the comparison axis: its progress, or its step.
double Position(const Report& report, bool by_progress);
/// The best value of `metric` over a trial's reports up to `position` (NaN if none).
double BestUpTo(const TrialRecord& trial, const std::string& metric, bool maximize,
                double position, bool by_progress);

}  // namespace aiok::tune
