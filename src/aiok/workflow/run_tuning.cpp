#include "aiok/workflow/run_tuning.h"

#include <fmt/format.h>
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
