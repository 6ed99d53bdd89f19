// What a study found, for people: `aiok tune show` (text), the Markdown report and the one-file
// HTML report (inline SVG charts: optimization history, Pareto front, intermediate curves with
// pruned trials marked, parallel coordinates, parameter importances).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/tune/objectives.h"
#include "aiok/tune/study_store.h"

namespace aiok::tune {

struct StudyView {
  StudyDefinition definition;
  std::vector<Objective> objectives;
  std::vector<Threshold> thresholds;
  std::vector<TrialRecord> trials;  ///< with reports
  /// The command that reruns a trial's configuration.
  std::function<std::string(const TrialRecord&)> reproduce;
};

/// Reads the study in `path` (objectives and thresholds from its definition).
StudyView LoadStudyView(const std::string& path);

/// Complete feasible trials on the Pareto front (one objective: the best), best first.
std::vector<const TrialRecord*> BestTrials(const StudyView& view);

/// The trial to go on with: with one objective the best; with two, the best on the second
/// objective among those at most `tolerance` worse than the best on the first (e.g. the
/// fastest trial within 0.001 AUC of the best). Complete feasible trials only; nullptr if none.
/// Ties go to the better first objective, then the lower trial number.
const TrialRecord* ChooseTrial(const StudyView& view, double tolerance);

/// Counts by state, then the best trial or the Pareto front with parameters and metrics.
std::string ShowText(const StudyView& view);

/// Main-effect importance of each parameter for objective `objective`: the share of the
/// objective's variance explained by the parameter's own (binned) value over complete trials.
/// Sorted, most important first.
std::vector<std::pair<std::string, double>> MainEffectImportances(const StudyView& view,
                                                                  size_t objective);

std::string MarkdownReport(const StudyView& view);
std::string HtmlReport(const StudyView& view);

}  // namespace aiok::tune
