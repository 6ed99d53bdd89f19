// The report of `aiok run`: DIR/report.json (everything, for tools) and DIR/report.md (the
// same for people: data, stage times, the training curve, final metrics next to the
// Bayes-optimal AUC, and the commands that use the bundle).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace aiok::workflow {

/// Renders report.md from the report.json document.
std::string RenderReportMarkdown(const nlohmann::json& report);

}  // namespace aiok::workflow
