#include "aiok/workflow/run_tuning.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "aiok/core/atomic_file.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"
#include "aiok/tune/report.h"
#include "aiok/tune/search_space.h"
#include "aiok/tune/train_study.h"
#include "aiok/tune/tuner.h"

namespace aiok::workflow {
namespace {
namespace fs = std::filesystem;

std::string RuleText(const std::vector<tune::Objective>& objectives, double auc_tolerance) {
  if (objectives.size() == 1)
    return "the best validation AUC";
  return fmt::format("the fastest trial whose validation AUC is within {} of the best",
                     auc_tolerance);
}

// The train settings the user gave: values other than the declared defaults, and the batch
// size only when it was given (the run lowers the default one for small data by itself).
nlohmann::json UserTrainValues(const RunConfig& config,
                               const std::vector<tune::DeclaredOption>& declared) {
  const nlohmann::json train = config.ToJson().at("train");  // the loop must not outlive it
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [key, value] : train.items()) {
    const tune::DeclaredOption* d = tune::FindDeclared(declared, key);
    if (key != "batch-size" && d != nullptr && d->default_value != value)
      values[key] = value;
  }
  if (config.batch_size_given)
    values["batch-size"] = train.at("batch-size");
  return values;
}

// `spec` without the parameters `values` fixes: each leaves the space; a parameter whose
// 'when' names one stays (without that condition) if the fixed value is among the values it
// lists and leaves otherwise (it would never be active), and so do its own dependents; a layer
// list that ends at a fixed parameter ends at its value.
nlohmann::json WithoutFixedParams(const nlohmann::json& spec, const nlohmann::json& values,
                                  std::vector<std::string>* removed) {
  nlohmann::json out = spec;
  nlohmann::json fixed = nlohmann::json::object();
  std::vector<std::string> inactive;
  auto lists = [](const nlohmann::json& allowed, const nlohmann::json& value) {
    if (!allowed.is_array())
      return allowed == value;
    return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = out.begin(); it != out.end(); ++it) {
      const std::string name = it.key();
      if (values.contains(name)) {
        fixed[name] = values.at(name);
        removed->push_back(name);
        out.erase(name);
        changed = true;
        break;
      }
      nlohmann::json& entry = it.value();
      if (!entry.is_object())
        continue;
      if (entry.contains("last") && entry["last"].is_string() &&
          fixed.contains(entry["last"].get<std::string>()))
        entry["last"] = fixed.at(entry["last"].get<std::string>());
      if (!entry.contains("when") || !entry["when"].is_object())
        continue;
      bool active = true;
      for (auto when = entry["when"].begin(); when != entry["when"].end();) {
        const std::string parent = when.key();
        if (std::find(inactive.begin(), inactive.end(), parent) != inactive.end() ||
            (fixed.contains(parent) && !lists(when.value(), fixed.at(parent)))) {
          active = false;
          break;
        }
        when = fixed.contains(parent) ? entry["when"].erase(when) : std::next(when);
      }
      if (entry["when"].empty())
        entry.erase("when");
      if (!active) {
        inactive.push_back(name);
        out.erase(name);
        changed = true;
        break;
      }
    }
  }
  return out;
}

}  // namespace

nlohmann::json FixedTrialOptions(const RunConfig& config, const nlohmann::json& space_spec,
                                 int64_t batch_size) {
  const std::vector<tune::DeclaredOption> declared = tune::TrainDeclarations(config.train.model);
  nlohmann::json train = config.ToJson().at("train");
  train["batch-size"] = batch_size;
  nlohmann::json fixed = nlohmann::json::object();
  for (const auto& [key, value] : train.items()) {
    // A trial evaluates as often as the tuner asks, and never needs a checkpoint.
    if (key == "model" || key == "eval-every" || key == "checkpoint-every" ||
        space_spec.contains(key))
      continue;
    const tune::DeclaredOption* d = tune::FindDeclared(declared, key);
    if (d != nullptr && d->default_value != value)
      fixed[key] = value;
  }
  return fixed;
}

nlohmann::json RunTuningStage(const RunConfig& config, const nlohmann::json& key,
                              const std::string& dataset_dir, const std::string& dir,
                              const RunContext& ctx) {
  const RunTuneOptions& o = config.tune;
  const std::string study = dir + "/study.db";
  const std::string key_file = dir + "/tune_key.json";
  // A study made for other inputs (data, space, objectives, training settings) is not this
  // one's: start over. The same key resumes it (an interrupted stage, a spent budget).
  const bool resumable = fs::exists(study) && fs::exists(key_file) &&
                         nlohmann::json::parse(ReadFile(key_file), nullptr, false) == key;
  if (!resumable) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    WriteFileAtomic(key_file, key.dump(2) + "\n");
  } else {
    spdlog::info("run: resuming the study in {}", study);
  }

  const std::string& model = config.train.model;
  const std::vector<tune::DeclaredOption> declared = tune::TrainDeclarations(model);
  nlohmann::json spec = tune::BuiltinSpaceSpec(model, declared);
  if (!o.space.empty())
    spec = tune::SearchSpace::MergeSpecs(spec, LoadConfigFile(o.space));
  // The user's train: settings stay fixed, as the README promises: they leave the space.
  std::vector<std::string> removed;
  spec = WithoutFixedParams(spec, UserTrainValues(config, declared), &removed);
  if (!removed.empty()) {
    spdlog::info("run: train: sets {}, which stay fixed (not searched)",
                 fmt::format("{}", fmt::join(removed, ", ")));
  }
  AIOK_CHECK(!spec.empty(), ErrorKind::kConfig,
             "tune: the run's train: settings fix every parameter of the search space ({}); "
             "leave some unset, or give tune.space",
             fmt::format("{}", fmt::join(removed, ", ")));
  const tune::SearchSpace space = tune::SearchSpace::FromSpec(
      spec, declared, o.space.empty() ? "built-in space of " + model : o.space);
  const int64_t train_rows = tune::DatasetTrainRows(dataset_dir);
  const nlohmann::json fixed = FixedTrialOptions(config, spec, config.TrainBatchSize(train_rows));
  const std::vector<tune::Objective> objectives = tune::ParseObjectives(o.objectives);
  {
    tune::StudyStore store(study);
    store.OpenStudy(
        tune::TrainStudyDefinition(model, objectives, {}, spec, dataset_dir, fixed, ctx.seed));
  }

  tune::TrainTrials trials;
  trials.executable = tune::AiokExecutable();
  trials.model = model;
  trials.data_dir = fs::absolute(dataset_dir).string();
  trials.fixed = fixed;
  trials.seed = ctx.seed;
  trials.threads = std::max(1, ctx.threads / static_cast<int>(o.workers));
  trials.reports = o.reports;
  trials.train_rows = train_rows;
  trials.declared = declared;
  tune::TunerOptions options;
  options.trials = o.trials;
  options.budget_minutes = o.budget_minutes;
  options.workers = o.workers;
  options.sampler = o.sampler;
  options.pruner = o.pruner;
  options.objectives = objectives;
  options.out_dir = dir + "/trials";
  tune::Tuner tuner(study, options, space, tune::MakeTrainLauncher(std::move(trials)), ctx);
  const tune::TuneSummary summary = tuner.Run();

  const tune::StudyView view = tune::LoadStudyView(study);
  std::map<std::string, int64_t> counts;
  for (const tune::TrialRecord& t : view.trials)
    ++counts[tune::TrialStateName(t.state)];
  const tune::TrialRecord* chosen = tune::ChooseTrial(view, o.auc_tolerance);
  AIOK_CHECK(chosen != nullptr, ErrorKind::kInvalidInput,
             "tune: none of the {} trials completed ({}); their logs are in {}/trials/*/log.txt",
             view.trials.size(), nlohmann::json(counts).dump(), dir);
  nlohmann::json values = nlohmann::json::object();
  for (size_t j = 0; j < objectives.size(); ++j)
    values[objectives[j].metric] = chosen->values[j];
  spdlog::info("run: tuning chose trial {} of {}: {}", chosen->number, view.trials.size(),
               chosen->params.dump());
  return {{"resumed", resumable},
          {"study", fs::absolute(study).string()},
          {"trials", counts},
          {"objectives", o.objectives},
          {"rule", RuleText(objectives, o.auc_tolerance)},
          {"sampler", summary.sampler},
          {"pruner", summary.pruner},
          {"budget_reached", summary.budget_reached},
          {"fixed", fixed},
          {"chosen",
           {{"trial", chosen->number},
            {"params", chosen->params},
            {"options", space.ToOptions(chosen->params)},
            {"values", values},
            {"metrics", chosen->metrics},
            {"output_dir", chosen->output_dir}}}};
}

}  // namespace aiok::workflow
