#include "aiok/tune/report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "aiok/core/svg_chart.h"
#include "aiok/tune/pareto.h"

namespace aiok::tune {
namespace {

std::string Number(double v) { return ChartNumber(v); }

std::string ParamsText(const nlohmann::json& params) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : params.items())
    parts.push_back(fmt::format("{}={}", k, v.is_string() ? v.get<std::string>() : v.dump()));
  return fmt::format("{}", fmt::join(parts, " "));
}

std::map<std::string, int> CountStates(const StudyView& view) {
  std::map<std::string, int> counts;
  for (const TrialRecord& t : view.trials)
    ++counts[TrialStateName(t.state)];
  return counts;
}

}  // namespace

StudyView LoadStudyView(const std::string& path) {
  StudyStore store(path);
  StudyView view;
  view.definition = store.LoadStudy();
  std::vector<std::string> objectives, thresholds;
  for (const auto& o : view.definition.objectives)
    objectives.push_back(o.get<std::string>());
  for (const auto& t : view.definition.thresholds)
    thresholds.push_back(t.get<std::string>());
  view.objectives = ParseObjectives(fmt::format("{}", fmt::join(objectives, ",")));
  view.thresholds = ParseThresholds(fmt::format("{}", fmt::join(thresholds, ",")));
  view.trials = store.Trials(true);
  return view;
}

std::vector<const TrialRecord*> BestTrials(const StudyView& view) {
  std::vector<const TrialRecord*> candidates;
  std::vector<ScoredPoint> points;
  for (const TrialRecord& t : view.trials)
    if (t.state == TrialState::kComplete && t.violation == 0 &&
        t.values.size() == view.objectives.size()) {
      candidates.push_back(&t);
      points.push_back({Minimized(view.objectives, t.values), 0.0});
    }
  const std::vector<int> ranks = NondominatedRanks(points);
  const std::vector<size_t> order = RankOrder(points);
  std::vector<const TrialRecord*> best;
  for (size_t i : order)
    if (ranks[i] == 0)
      best.push_back(candidates[i]);
  if (view.objectives.size() >= 2)  // a front reads best along the first objective
    std::sort(best.begin(), best.end(), [&](const TrialRecord* a, const TrialRecord* b) {
      return view.objectives[0].maximize ? a->values[0] > b->values[0]
                                         : a->values[0] < b->values[0];
    });
  return best;
}

const TrialRecord* ChooseTrial(const StudyView& view, double tolerance) {
  std::vector<const TrialRecord*> done;
  std::vector<std::vector<double>> cost;  // minimized objective values
  for (const TrialRecord& t : view.trials)
    if (t.state == TrialState::kComplete && t.violation == 0 &&
        t.values.size() == view.objectives.size() && !t.values.empty()) {
      done.push_back(&t);
      cost.push_back(Minimized(view.objectives, t.values));
    }
  if (done.empty())
    return nullptr;
  size_t best = 0;
  for (size_t i = 1; i < done.size(); ++i)
    if (cost[i][0] < cost[best][0])
      best = i;
  if (view.objectives.size() == 1)
    return done[best];
  size_t chosen = best;
  for (size_t i = 0; i < done.size(); ++i) {
    if (cost[i][0] > cost[best][0] + tolerance)
      continue;
    if (cost[i][1] < cost[chosen][1] ||
        (cost[i][1] == cost[chosen][1] && cost[i][0] < cost[chosen][0]))
      chosen = i;
  }
  return done[chosen];
}

std::string ShowText(const StudyView& view) {
  std::string out =
      fmt::format("study: {} ({})\nobjectives: ", view.definition.target, view.definition.name);
  for (const Objective& o : view.objectives)
    out += o.ToString() + " ";
  for (const Threshold& t : view.thresholds)
    out += " threshold " + t.ToString();
  out += "\ntrials:";
  for (const auto& [state, n] : CountStates(view))
    out += fmt::format(" {} {}", n, state);
  out += "\n";
  const std::vector<const TrialRecord*> best = BestTrials(view);
  if (best.empty())
    return out + "no complete trial meets the thresholds yet\n";
  out += view.objectives.size() == 1 ? "best trial:\n" : "Pareto front:\n";
  for (const TrialRecord* t : best) {
    std::vector<std::string> values;
    for (size_t j = 0; j < view.objectives.size(); ++j)
      values.push_back(fmt::format("{} {}", view.objectives[j].metric, Number(t->values[j])));
    out += fmt::format("  trial {}: {}\n    {}\n", t->number, fmt::join(values, ", "),
                       ParamsText(t->params));
    if (view.reproduce)
      out += "    " + view.reproduce(*t) + "\n";
  }
  return out;
}

std::vector<std::pair<std::string, double>> MainEffectImportances(const StudyView& view,
                                                                  size_t objective) {
  std::vector<const TrialRecord*> done;
  for (const TrialRecord& t : view.trials)
    if (t.state == TrialState::kComplete && t.values.size() > objective)
      done.push_back(&t);
  std::vector<std::pair<std::string, double>> out;
  if (done.size() < 4)
    return out;
  double mean = 0;
  for (const TrialRecord* t : done)
    mean += t->values[objective];
  mean /= static_cast<double>(done.size());
  double total = 0;
  for (const TrialRecord* t : done)
    total += std::pow(t->values[objective] - mean, 2);
  if (total <= 0)
    return out;
  std::set<std::string> names;
  for (const TrialRecord* t : done)
    for (const auto& [k, v] : t->params.items())
      names.insert(k);
  for (const std::string& name : names) {
    // Group trials by the parameter's value: categories as they are, numbers in 4 quantile
    // bins, "inactive" as its own group. Explained variance = between-group sum of squares.
    std::vector<std::pair<double, double>> numeric;  // value, objective
    std::map<std::string, std::vector<double>> groups;
    for (const TrialRecord* t : done) {
      if (!t->params.contains(name))
        groups["(inactive)"].push_back(t->values[objective]);
      else if (t->params[name].is_number())
        numeric.emplace_back(t->params[name].get<double>(), t->values[objective]);
      else
        groups[t->params[name].dump()].push_back(t->values[objective]);
    }
    std::sort(numeric.begin(), numeric.end());
    for (size_t i = 0; i < numeric.size(); ++i)
      groups[fmt::format("bin{}", i * 4 / numeric.size())].push_back(numeric[i].second);
    double between = 0;
    for (const auto& [g, values] : groups) {
      double m = 0;
      for (double v : values)
        m += v;
      m /= static_cast<double>(values.size());
      between += static_cast<double>(values.size()) * (m - mean) * (m - mean);
    }
    out.emplace_back(name, between / total);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string MarkdownReport(const StudyView& view) {
  std::string out = fmt::format("# Study report: {}\n\n", view.definition.target);
  out += "Objectives: ";
  for (const Objective& o : view.objectives)
    out += "`" + o.ToString() + "` ";
  for (const Threshold& t : view.thresholds)
    out += " threshold `" + t.ToString() + "`";
  out += "\n\nTrials:";
  for (const auto& [state, n] : CountStates(view))
    out += fmt::format(" {} {},", n, state);
  out.back() = '\n';
  const std::vector<const TrialRecord*> best = BestTrials(view);
  out += view.objectives.size() == 1 ? "\n## Best trial\n\n" : "\n## Pareto front\n\n";
  if (best.empty())
    out += "No complete trial meets the thresholds.\n";
  out += "| trial |";
  for (const Objective& o : view.objectives)
    out += " " + o.metric + " |";
  out += " parameters |\n|---|";
  for (size_t j = 0; j < view.objectives.size(); ++j)
    out += "---|";
  out += "---|\n";
  for (const TrialRecord* t : best) {
    out += fmt::format("| {} |", t->number);
    for (double v : t->values)
      out += " " + Number(v) + " |";
    out += " " + ParamsText(t->params) + " |\n";
  }
  if (!best.empty() && view.reproduce)
    out += fmt::format("\nReproduce trial {}:\n\n```\n{}\n```\n", best.front()->number,
                       view.reproduce(*best.front()));
  const auto importances = MainEffectImportances(view, 0);
  if (!importances.empty()) {
    out += fmt::format(
        "\n## Parameter importance for {} (main-effect variance share, 4 "
        "quantile bins)\n\n",
        view.objectives[0].metric);
    for (const auto& [name, share] : importances)
      out += fmt::format("- {}: {:.3f}\n", name, share);
  }
  out += "\n## All trials\n\n| trial | state | values | seconds | note |\n|---|---|---|---|---|\n";
  for (const TrialRecord& t : view.trials) {
    std::vector<std::string> values;
    for (double v : t.values)
      values.push_back(Number(v));
    out += fmt::format(
        "| {} | {} | {} | {} | {} |\n", t.number, TrialStateName(t.state), fmt::join(values, ", "),
        t.finished > t.started ? fmt::format("{:.1f}", t.finished - t.started) : "", t.message);
  }
  return out;
}

std::string HtmlReport(const StudyView& view) {
  std::string charts;
  const Objective& first = view.objectives[0];
  // 1. Optimization history of the first objective, with the best so far.
  {
    std::vector<double> xs, ys;
    for (const TrialRecord& t : view.trials)
      if (t.state == TrialState::kComplete && !t.values.empty()) {
        xs.push_back(static_cast<double>(t.number));
        ys.push_back(t.values[0]);
      }
    const auto [y0, y1] = PaddedRange(ys);
    SvgChart plot("history", "Optimization history", "trial", first.ToString(), 0,
                  std::max<double>(1, static_cast<double>(view.trials.size())), y0, y1);
    std::vector<std::pair<double, double>> best_line;
    double best = NAN;
    for (size_t i = 0; i < xs.size(); ++i) {
      plot.Point(xs[i], ys[i], "#1f77b4", fmt::format("trial {}: {}", xs[i], Number(ys[i])));
      if (std::isnan(best) || (first.maximize ? ys[i] > best : ys[i] < best))
        best = ys[i];
      best_line.emplace_back(xs[i], best);
    }
    plot.Line(best_line, "#2ca02c");
    charts += plot.Svg();
  }
  // 2. Pareto front of the first two objectives.
  if (view.objectives.size() >= 2) {
    std::vector<double> xs, ys;
    for (const TrialRecord& t : view.trials)
      if (t.state == TrialState::kComplete && t.values.size() >= 2) {
        xs.push_back(t.values[1]);
        ys.push_back(t.values[0]);
      }
    const auto [x0, x1] = PaddedRange(xs);
    const auto [y0, y1] = PaddedRange(ys);
    SvgChart plot("pareto", "Pareto front (red: on the front; grey: misses a threshold)",
                  view.objectives[1].ToString(), first.ToString(), x0, x1, y0, y1);
    const std::vector<const TrialRecord*> best = BestTrials(view);
    std::set<int64_t> front;
    for (const TrialRecord* t : best)
      front.insert(t->number);
    for (const TrialRecord& t : view.trials)
      if (t.state == TrialState::kComplete && t.values.size() >= 2)
        plot.Point(t.values[1], t.values[0],
                   front.count(t.number) ? "#d62728"
                   : t.violation > 0     ? "#bbbbbb"
                                         : "#1f77b4",
                   fmt::format("trial {}: {}", t.number, ParamsText(t.params)));
    std::vector<std::pair<double, double>> line;
    for (const TrialRecord* t : best)
      line.emplace_back(t->values[1], t->values[0]);
    std::sort(line.begin(), line.end());
    plot.Line(line, "#d62728", 1.0, "4 3");
    charts += plot.Svg();
  }
  // 3. Intermediate curves of the first objective; pruned trials in red, ending in a cross.
  {
    std::vector<double> xs, ys;
    bool by_progress = true;
    for (const TrialRecord& t : view.trials)
      for (const Report& r : t.reports) {
        by_progress = by_progress && r.progress >= 0;
        if (r.metrics.contains(first.metric)) {
          xs.push_back(r.progress >= 0 ? r.progress : static_cast<double>(r.step));
          ys.push_back(r.metrics[first.metric].get<double>());
        }
      }
    if (!ys.empty()) {
      const auto [x0, x1] = PaddedRange(xs);
      const auto [y0, y1] = PaddedRange(ys);
      SvgChart plot("curves", "Intermediate values (red: pruned)",
                    by_progress ? "progress" : "step", first.metric, x0, x1, y0, y1);
      for (const TrialRecord& t : view.trials) {
        std::vector<std::pair<double, double>> line;
        for (const Report& r : t.reports)
          if (r.metrics.contains(first.metric))
            line.emplace_back(r.progress >= 0 ? r.progress : static_cast<double>(r.step),
                              r.metrics[first.metric].get<double>());
        if (line.empty())
          continue;
        const bool pruned = t.state == TrialState::kPruned;
        plot.Line(line, pruned ? "#d62728" : "#1f77b4", 1.0);
        plot.Point(line.back().first, line.back().second, pruned ? "#d62728" : "#1f77b4",
                   fmt::format("trial {} ({})", t.number, TrialStateName(t.state)), pruned ? 3 : 2);
      }
      charts += plot.Svg();
    }
  }
  // 4. Parallel coordinates: numeric parameters and the first objective, each axis scaled to
  // its range; categorical parameters by choice index.
  {
    std::vector<std::string> axes;
    for (const TrialRecord& t : view.trials)
      for (const auto& [k, v] : t.params.items())
        if (std::find(axes.begin(), axes.end(), k) == axes.end())
          axes.push_back(k);
    std::sort(axes.begin(), axes.end());
    axes.push_back(first.metric);
    std::map<std::string, std::vector<std::string>> categories;
    auto value = [&](const TrialRecord& t, const std::string& axis) -> double {
      if (axis == first.metric && !t.params.contains(axis))
        return t.values.empty() ? NAN : t.values[0];
      if (!t.params.contains(axis))
        return NAN;
      const nlohmann::json& v = t.params[axis];
      if (v.is_number())
        return v.get<double>();
      auto& c = categories[axis];
      auto it = std::find(c.begin(), c.end(), v.dump());
      if (it == c.end()) {
        c.push_back(v.dump());
        return static_cast<double>(c.size() - 1);
      }
      return static_cast<double>(it - c.begin());
    };
    std::map<std::string, std::pair<double, double>> ranges;
    for (const std::string& a : axes) {
      std::vector<double> v;
      for (const TrialRecord& t : view.trials)
        if (t.state == TrialState::kComplete)
          v.push_back(value(t, a));
      ranges[a] = PaddedRange(v);
    }
    const double n = static_cast<double>(axes.size() - 1);
    SvgChart plot("parallel", "Parallel coordinates (complete trials; colour: first objective)", "",
                  "", 0, std::max(1.0, n), 0, 1);
    plot.HideXRange();  // the axes carry their own numbers
    // Axes carry their number; the names go in a legend under the chart, because a study's
    // 20-odd parameter names do not fit side by side over 520 pixels.
    std::string legend;
    for (size_t i = 0; i < axes.size(); ++i) {
      plot.Line({{static_cast<double>(i), 0}, {static_cast<double>(i), 1}}, "#999", 0.5);
      plot.Raw(fmt::format(
          "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"9\" "
          "text-anchor=\"middle\">{}</text>\n",
          plot.X(static_cast<double>(i)), plot.Y(1) + 9, i + 1));
      legend += fmt::format("{}<b>{}</b>&nbsp;{}", legend.empty() ? "" : " &middot; ", i + 1,
                            HtmlEscape(axes[i]));
    }
    const auto [o0, o1] = ranges[first.metric];
    for (const TrialRecord& t : view.trials) {
      if (t.state != TrialState::kComplete || t.values.empty())
        continue;
      std::vector<std::pair<double, double>> line;
      for (size_t i = 0; i < axes.size(); ++i) {
        const double v = value(t, axes[i]);
        if (std::isnan(v))
          continue;
        const auto [lo, hi] = ranges[axes[i]];
        line.emplace_back(static_cast<double>(i), (v - lo) / (hi - lo));
      }
      double q = (t.values[0] - o0) / (o1 - o0);
      if (!first.maximize)
        q = 1 - q;
      plot.Line(line,
                fmt::format("rgb({},{},{})", static_cast<int>(220 * (1 - q)), 60,
                            static_cast<int>(220 * q)),
                1.0);
      plot.Point(line.back().first, line.back().second, "#333", fmt::format("trial {}", t.number),
                 2);
    }
    charts += plot.Svg();
    charts += fmt::format("<p class=\"legend\">Axes: {}</p>\n", legend);
  }
  // 5. Importances.
  std::string importances;
  for (const auto& [name, share] : MainEffectImportances(view, 0))
    importances += fmt::format(
        "<tr><td>{}</td><td><div class=\"bar\" style=\"width:{:.0f}px\"></div> {:.3f}</td></tr>\n",
        HtmlEscape(name), 300 * share, share);
  std::string md = MarkdownReport(view);
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>aiok tune: {0}</title>\n"
      "<style>body{{font-family:sans-serif;margin:20px;max-width:1000px}}"
      ".chart{{display:inline-block;margin:8px}}.bar{{display:inline-block;height:10px;"
      "background:#1f77b4}}.legend{{font-size:12px;max-width:600px}}pre{{background:#f4f4f4;padding:8px;white-space:pre-wrap}}"
      "</style></head><body>\n<h1>aiok tune: {0}</h1>\n{1}\n"
      "<h2>Parameter importance for {2} (main-effect variance share over 4 quantile bins)</h2>"
      "\n<table id=\"importance\">{3}</table>\n<h2>Summary</h2><pre>{4}</pre>\n</body></html>\n",
      HtmlEscape(view.definition.target), charts, HtmlEscape(first.metric), importances,
      HtmlEscape(md));
}

}  // namespace aiok::tune
