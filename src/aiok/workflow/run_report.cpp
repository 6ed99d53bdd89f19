#include "aiok/workflow/run_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "aiok/core/progress.h"
#include "aiok/core/svg_chart.h"

namespace aiok::workflow {
namespace {

std::string Number(const nlohmann::json& value, const char* format = "{:.4f}") {
  if (!value.is_number())
    return "—";
  return fmt::format(fmt::runtime(format), value.get<double>());
}

// The valid-AUC curve as a text chart: one bar per evaluation, scaled between the lowest and
// the highest AUC seen.
std::string CurveChart(const nlohmann::json& curve) {
  if (curve.empty())
    return "";
  double low = 1.0;
  double high = 0.0;
  for (const auto& point : curve) {
    low = std::min(low, point.at("valid_auc").get<double>());
    high = std::max(high, point.at("valid_auc").get<double>());
  }
  const double span = std::max(high - low, 1e-9);
  std::string out = "```\n";
  for (const auto& point : curve) {
    const double auc = point.at("valid_auc").get<double>();
    const int width = 1 + static_cast<int>(39.0 * (auc - low) / span);
    out += fmt::format("step {:>6}  {:.4f}  {}\n", point.at("step").get<int64_t>(), auc,
                       std::string(static_cast<size_t>(width), '#'));
  }
  return out + "```\n";
}

// The shape of a model from its architecture JSON, whatever the model: its sizes and
// settings, without the per-table lists (table sizes, lists, crosses) that a dataset of many
// fields would make unreadable.
std::string ArchitectureSummary(const nlohmann::json& architecture) {
  std::string out;
  for (const auto& [key, value] : architecture.items()) {
    if (key == "table_sizes" || key == "lists" || key == "crosses" || key == "task")
      continue;
    if (!out.empty())
      out += ", ";
    out += fmt::format("{} {}", key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  return out;
}

}  // namespace

std::string RenderReportMarkdown(const nlohmann::json& r) {
  std::string md = "# aiok run report\n\n";
  const auto& test = r.at("train").at("test");
  const auto& evaluation = r.at("evaluation");
  md += fmt::format(
      "Test AUC **{}** (Bayes-optimal {}) after {} of training; the bundle scores the raw test "
      "rows at AUC {}.\n\nBundle: `{}`\n\n",
      Number(test.value("auc", nlohmann::json())),
      Number(test.value("bayes_auc", nlohmann::json())),
      HumanSeconds(r.at("train").at("train").at("wall_seconds").get<double>()),
      Number(evaluation.value("auc", nlohmann::json())), r.at("bundle").get<std::string>());

  md += "## Data\n\n";
  const auto& data = r.at("data");
  const auto& etl = data.at("etl");
  md +=
      fmt::format("- input: `{}`{}\n", data.at("input").get<std::string>(),
                  data.at("synthetic").get<bool>() ? " (built-in synthetic Criteo-like data)" : "");
  if (data.at("synthetic").get<bool>()) {
    const auto& datagen = data.at("datagen");
    md += fmt::format("- synthetic: {} rows, positive rate {}, Bayes-optimal AUC {}\n",
                      datagen.at("rows").get<int64_t>(), Number(datagen.at("positive_rate")),
                      Number(datagen.at("bayes_auc")));
  }
  md += fmt::format("- ETL: {} rows, {} rejected; train {} / valid {} / test {} rows\n",
                    etl.at("rows").get<int64_t>(), etl.at("rejected").get<int64_t>(),
                    etl.at("splits").at("train").get<int64_t>(),
                    etl.at("splits").at("valid").get<int64_t>(),
                    etl.at("splits").at("test").get<int64_t>());
  md += fmt::format(
      "- features: {} dense, {} categorical, {} list ({} embedding rows in all); "
      "task {}\n",
      etl.at("dense_columns").get<int64_t>(), etl.at("categorical_columns").get<int64_t>(),
      etl.value("list_columns", int64_t{0}), etl.at("embedding_rows").get<int64_t>(),
      etl.value("task", "binary"));
  if (etl.contains("schema")) {
    md += fmt::format("\nInput schema ({}):\n\n| field | role | type |\n|---|---|---|\n",
                      etl.value("schema_inferred", false) ? "inferred from the file" : "given");
    for (const auto& field : etl.at("schema").at("fields")) {
      md += fmt::format("| {} | {} | {} |\n", field.at("name").get<std::string>(),
                        field.at("role").get<std::string>(), field.at("type").get<std::string>());
    }
    md += "\nPipeline (fitted on the train split):\n\n";
    for (const auto& step : etl.at("pipeline").at("steps")) {
      std::vector<std::string> ops;
      for (const auto& op : step.at("ops"))
        ops.push_back(op.begin().key() +
                      (op.begin().value().empty() ? "" : " " + op.begin().value().dump()));
      if (step.contains("inputs")) {  // a derived field
        md += fmt::format("- {} = {} of {}\n", step.at("output").get<std::string>(),
                          fmt::join(ops, " -> "),
                          fmt::join(step.at("inputs").get<std::vector<std::string>>(), ", "));
      } else {
        md += fmt::format("- {} -> {}\n",
                          fmt::join(step.at("columns").get<std::vector<std::string>>(), ", "),
                          fmt::join(ops, " -> "));
      }
    }
    const nlohmann::json mapping = etl.value("label_mapping", nlohmann::json());
    if (mapping.is_object() && !mapping.value("positive", "").empty()) {
      md += fmt::format("- label: '{}' is 1, '{}' is 0\n",
                        etl.at("label_mapping").at("positive").get<std::string>(),
                        etl.at("label_mapping").at("negative").get<std::string>());
    }
  }
  md += "\n";

  md += "## Stages\n\n| stage | this run | time when it ran |\n|---|---|---|\n";
  for (const auto& stage : r.at("stages")) {
    md += fmt::format("| {} | {} | {} |\n", stage.at("name").get<std::string>(),
                      stage.at("status").get<std::string>(),
                      HumanSeconds(stage.at("seconds_when_run").get<double>()));
  }
  md += fmt::format("\nThis invocation took {} on {} threads.\n\n",
                    HumanSeconds(r.at("seconds_this_run").get<double>()),
                    r.at("threads").get<int64_t>());

  const auto& train = r.at("train");
  md += "## Training\n\n";
  md += fmt::format("- model: {} ({}), precision {}; {}\n",
                    r.at("config").at("train").at("model").get<std::string>(),
                    r.at("config").at("train").at("preset").get<std::string>(),
                    train.at("precision").get<std::string>(),
                    ArchitectureSummary(train.at("architecture")));
  // The ranks of the training that made the model (a skipped stage's, not this invocation's).
  const int64_t ranks = train.at("train").value("ranks", int64_t{1});
  md += fmt::format("- {} steps, {} samples/s, {} of training{}\n\n",
                    train.at("train").at("steps").get<int64_t>(),
                    HumanCount(train.at("train").at("samples_per_second").get<double>()),
                    HumanSeconds(train.at("train").at("wall_seconds").get<double>()),
                    ranks > 1 ? fmt::format(", data-parallel on {} ranks (mpirun)", ranks)
                              : std::string(", in one process"));
  md += "Validation AUC during training:\n\n" + CurveChart(train.at("curve")) + "\n";

  const nlohmann::json tune = r.value("tune", nlohmann::json());
  if (tune.is_object()) {
    const auto& chosen = tune.at("chosen");
    md += "## Tuning\n\n";
    md += fmt::format(
        "- study: `{}` ({} trials: {}); objectives {}, sampler {}, pruner {}{}\n",
        tune.at("study").get<std::string>(),
        [&] {
          int64_t n = 0;
          for (const auto& [state, count] : tune.at("trials").items())
            n += count.get<int64_t>();
          return n;
        }(),
        [&] {
          std::vector<std::string> parts;
          for (const auto& [state, count] : tune.at("trials").items())
            parts.push_back(fmt::format("{} {}", count.get<int64_t>(), state));
          return fmt::format("{}", fmt::join(parts, ", "));
        }(),
        tune.at("objectives").get<std::string>(), tune.at("sampler").get<std::string>(),
        tune.at("pruner").get<std::string>(),
        tune.value("budget_reached", false) ? "; the budget ran out" : "");
    std::vector<std::string> values;
    for (const auto& [metric, value] : chosen.at("values").items())
      values.push_back(fmt::format("{} {}", metric, Number(value)));
    md += fmt::format("- chosen: trial {} ({}): {}\n", chosen.at("trial").get<int64_t>(),
                      tune.at("rule").get<std::string>(), fmt::join(values, ", "));
    md += "- the final training took these values:\n\n| option | value |\n|---|---|\n";
    for (const auto& [key, value] : chosen.at("options").items())
      md += fmt::format("| {} | {} |\n", key,
                        value.is_string() ? value.get<std::string>() : value.dump());
    md += "\n";
  }

  md +=
      "## Metrics\n\n| split | AUC | Bayes-optimal AUC | gap | logloss | accuracy |\n"
      "|---|---|---|---|---|---|\n";
  for (const char* split : {"valid", "test"}) {
    const auto& m = train.at(split);
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", split,
                      Number(m.value("auc", nlohmann::json())),
                      Number(m.value("bayes_auc", nlohmann::json())),
                      Number(m.value("gap_to_bayes", nlohmann::json())),
                      Number(m.value("logloss", nlohmann::json())),
                      Number(m.value("accuracy", nlohmann::json())));
    if (m.contains("rmse"))
      md +=
          fmt::format("\n{}: RMSE {}, MAE {}\n", split, Number(m.at("rmse")), Number(m.at("mae")));
  }
  md += fmt::format(
      "\nThe bundle on the raw test rows (ETL transform + model, as predict and serve run it): "
      "AUC {}, logloss {}.\n\nCalibration (test rows by predicted-probability decile):\n\n"
      "| decile | rows | mean predicted | observed click rate |\n|---|---|---|---|\n",
      Number(evaluation.value("auc", nlohmann::json())),
      Number(evaluation.value("logloss", nlohmann::json())));
  for (const auto& bin : evaluation.value("calibration", nlohmann::json::array())) {
    md += fmt::format("| {} | {} | {} | {} |\n", bin.at("bin").get<int>(),
                      bin.at("rows").get<int64_t>(), Number(bin.at("mean_predicted")),
                      Number(bin.at("observed_rate")));
  }

  const auto& commands = r.at("commands");
  md += "\n## Use the model\n\n```sh\n";
  md += commands.at("predict").get<std::string>() + "\n";
  md += commands.at("serve").get<std::string>() + "\n";
  md += "curl -s localhost:8080/v1/predict -d '" + commands.value("example_request", "") + "'\n";
  md += "```\n\nRerun (unchanged stages are skipped): `" + commands.at("rerun").get<std::string>() +
        "`\n";
  return md;
}

std::string RenderReportHtml(const nlohmann::json& r) {
  std::string charts;
  const auto& train = r.at("train");
  // Validation AUC by step, with the valid split's Bayes-optimal AUC when the data has truth.
  {
    std::vector<double> xs, ys;
    for (const auto& point : train.at("curve"))
      if (point.contains("valid_auc")) {
        xs.push_back(point.at("step").get<double>());
        ys.push_back(point.at("valid_auc").get<double>());
      }
    const nlohmann::json bayes = train.at("valid").value("bayes_auc", nlohmann::json());
    std::vector<double> y_all = ys;
    if (bayes.is_number())
      y_all.push_back(bayes.get<double>());
    const auto [y0, y1] = PaddedRange(y_all);
    SvgChart chart("curve",
                   bayes.is_number() ? "Validation AUC during training (dashed: Bayes-optimal)"
                                     : "Validation AUC during training",
                   "step", "valid AUC", 0, xs.empty() ? 1 : xs.back(), y0, y1);
    std::vector<std::pair<double, double>> line;
    for (size_t i = 0; i < xs.size(); ++i) {
      line.emplace_back(xs[i], ys[i]);
      chart.Point(xs[i], ys[i], "#1f77b4",
                  fmt::format("step {}: AUC {:.4f}", static_cast<int64_t>(xs[i]), ys[i]), 3);
    }
    chart.Line(line, "#1f77b4");
    if (bayes.is_number())
      chart.Line({{0, bayes.get<double>()}, {xs.empty() ? 1 : xs.back(), bayes.get<double>()}},
                 "#2ca02c", 1.0, "6 4");
    charts += chart.Svg();
  }
  // Reliability: observed click rate against mean prediction, per decile of the test rows'
  // predictions (the bundle's, as predict and serve score them).
  const auto& evaluation = r.at("evaluation");
  if (evaluation.contains("calibration") && !evaluation.at("calibration").empty()) {
    double high = 0.0;
    for (const auto& bin : evaluation.at("calibration"))
      high = std::max(
          {high, bin.at("mean_predicted").get<double>(), bin.at("observed_rate").get<double>()});
    high = std::min(1.0, high * 1.1 + 1e-3);
    SvgChart chart("reliability",
                   "Reliability on the test split: observed click rate by decile of the "
                   "prediction (dashed: perfect calibration)",
                   "mean predicted probability", "observed click rate", 0, high, 0, high);
    chart.Line({{0, 0}, {high, high}}, "#999", 1.0, "4 3");
    std::vector<std::pair<double, double>> line;
    for (const auto& bin : evaluation.at("calibration")) {
      const double p = bin.at("mean_predicted").get<double>();
      const double o = bin.at("observed_rate").get<double>();
      line.emplace_back(p, o);
      chart.Point(p, o, "#d62728",
                  fmt::format("decile {}: {} rows, predicted {:.4f}, observed {:.4f}",
                              bin.at("bin").get<int>(), bin.at("rows").get<int64_t>(), p, o));
    }
    chart.Line(line, "#d62728", 1.0);
    charts += chart.Svg();
  }
  // Stage times, as they were when each stage last ran.
  {
    const auto& stages = r.at("stages");
    std::vector<double> seconds;
    for (const auto& stage : stages)
      seconds.push_back(stage.at("seconds_when_run").get<double>());
    const double top = seconds.empty() ? 1.0 : *std::max_element(seconds.begin(), seconds.end());
    SvgChart chart("stages", "Stage times (s; when each stage last ran)", "stage", "seconds", -0.5,
                   static_cast<double>(seconds.size()) - 0.5, 0, std::max(top * 1.15, 1e-3));
    chart.HideXRange();
    for (size_t i = 0; i < seconds.size(); ++i) {
      const auto& stage = stages[i];
      const std::string name = stage.at("name").get<std::string>();
      chart.Bar(static_cast<double>(i), seconds[i], 0, 0.6,
                stage.at("status") == "skipped" ? "#9ecae1" : "#1f77b4",
                fmt::format("{}: {} ({} this run)", name, HumanSeconds(seconds[i]),
                            stage.at("status").get<std::string>()));
      chart.Label(static_cast<double>(i), seconds[i] + top * 0.03, HumanSeconds(seconds[i]));
      chart.Raw(
          fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" "
                      "text-anchor=\"middle\">{}</text>\n",
                      chart.X(static_cast<double>(i)), chart.Y(0) + 12, HtmlEscape(name)));
    }
    charts += chart.Svg();
  }
  // AUC of each split against its Bayes limit: what data this noisy allows at best.
  {
    struct Entry {
      std::string name;
      double auc;
      double bayes;
    };
    std::vector<Entry> entries;
    auto add = [&](const std::string& name, const nlohmann::json& m) {
      if (m.contains("auc") && m.at("auc").is_number())
        entries.push_back({name, m.at("auc").get<double>(),
                           m.contains("bayes_auc") ? m.at("bayes_auc").get<double>() : NAN});
    };
    add("valid", train.at("valid"));
    add("test", train.at("test"));
    add("bundle on raw test rows", evaluation);
    if (!entries.empty()) {
      SvgChart chart("auc", "AUC against the Bayes limit (bars: model; dashes: Bayes-optimal)",
                     "split", "AUC", -0.5, static_cast<double>(entries.size()) - 0.5, 0.5, 1.0);
      chart.HideXRange();
      for (size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        const double x = static_cast<double>(i);
        chart.Bar(x, e.auc, 0.5, 0.5, "#1f77b4", fmt::format("{}: AUC {:.4f}", e.name, e.auc));
        chart.Label(x, e.auc + 0.01, fmt::format("{:.4f}", e.auc));
        if (!std::isnan(e.bayes)) {
          chart.Line({{x - 0.35, e.bayes}, {x + 0.35, e.bayes}}, "#2ca02c", 2.0, "5 3");
          chart.Label(x, e.bayes + 0.01, fmt::format("Bayes {:.4f}", e.bayes), "middle", 9);
        }
        chart.Raw(
            fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" "
                        "text-anchor=\"middle\">{}</text>\n",
                        chart.X(x), chart.Y(0.5) + 12, HtmlEscape(e.name)));
      }
      charts += chart.Svg();
    }
  }
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>aiok run report</title>\n"
      "<style>body{{font-family:sans-serif;margin:20px;max-width:1300px}}"
      ".chart{{display:inline-block;margin:8px;vertical-align:top}}"
      "pre{{background:#f4f4f4;padding:8px;white-space:pre-wrap}}</style></head><body>\n"
      "<h1>aiok run report</h1>\n{}\n<h2>Summary</h2><pre>{}</pre>\n</body></html>\n",
      charts, HtmlEscape(RenderReportMarkdown(r)));
}

}  // namespace aiok::workflow
