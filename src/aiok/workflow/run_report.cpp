#include "aiok/workflow/run_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <string>

#include "aiok/core/progress.h"

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
      Number(test.value("auc", nlohmann::json())), Number(test.value("bayes_auc", nlohmann::json())),
      HumanSeconds(r.at("train").at("train").at("wall_seconds").get<double>()),
      Number(evaluation.value("auc", nlohmann::json())), r.at("bundle").get<std::string>());

  md += "## Data\n\n";
  const auto& data = r.at("data");
  const auto& etl = data.at("etl");
  md += fmt::format("- input: `{}`{}\n", data.at("input").get<std::string>(),
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
  md += fmt::format("- features: {} dense, {} categorical, {} list ({} embedding rows in all); "
                    "task {}\n",
                    etl.at("dense_columns").get<int64_t>(),
                    etl.at("categorical_columns").get<int64_t>(),
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
        ops.push_back(op.begin().key() + (op.begin().value().empty() ? "" : " " + op.begin().value().dump()));
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
  md += fmt::format("- {} steps, {} samples/s, {} of training\n\n",
                    train.at("train").at("steps").get<int64_t>(),
                    HumanCount(train.at("train").at("samples_per_second").get<double>()),
                    HumanSeconds(train.at("train").at("wall_seconds").get<double>()));
  md += "Validation AUC during training:\n\n" + CurveChart(train.at("curve")) + "\n";

  md += "## Metrics\n\n| split | AUC | Bayes-optimal AUC | gap | logloss | accuracy |\n"
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
      md += fmt::format("\n{}: RMSE {}, MAE {}\n", split, Number(m.at("rmse")), Number(m.at("mae")));
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
  md += "```\n\nRerun (unchanged stages are skipped): `" +
        commands.at("rerun").get<std::string>() + "`\n";
  return md;
}

}  // namespace aiok::workflow
