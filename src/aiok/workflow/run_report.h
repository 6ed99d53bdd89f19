// The report of `aiok run`: DIR/report.json (everything, for tools), DIR/report.md (the same
// for people: data, stage times, the training curve, final metrics next to the Bayes-optimal
// AUC, the tuning stage's choice, and the commands that use the bundle) and DIR/report.html
// (one self-contained page with the charts: validation curve, reliability diagram, stage
// times, AUC against the Bayes limit; inline SVG from core/svg_chart.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace aiok::workflow {

/// Renders report.md from the report.json document.
std::string RenderReportMarkdown(const nlohmann::json& report);

/// Renders report.html from the report.json document: charts with ids "curve",
/// "reliability", "stages" and "auc" (each data mark carries its values in data-x/data-y),
/// then report.md's text.
std::string RenderReportHtml(const nlohmann::json& report);

}  // namespace aiok::workflow
