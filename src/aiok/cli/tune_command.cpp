#include "aiok/cli/tune_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <regex>

#include "aiok/cli/cli_common.h"
#include "aiok/core/atomic_file.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/suggest.h"
#include "aiok/tune/declared_options.h"
#include "aiok/tune/pruner.h"
#include "aiok/tune/report.h"
#include "aiok/tune/train_study.h"
#include "aiok/tune/tuner.h"

namespace aiok::cli {
namespace {
namespace fs = std::filesystem;

constexpr const char* kModelPrefix = tune::kModelTargetPrefix;
constexpr const char* kCommandPrefix = "command:";

std::string ValueText(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// --fixed KEY=VALUE: values parsed as YAML scalars (numbers, booleans, text).
nlohmann::json ParseFixed(const std::vector<std::string>& items) {
  nlohmann::json fixed = nlohmann::json::object();
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    AIOK_CHECK(eq != std::string::npos && eq > 0, ErrorKind::kUsage,
               "--fixed: '{}' must look like KEY=VALUE (e.g. epochs=1)", item);
    fixed[item.substr(0, eq)] = ParseConfigText(item.substr(eq + 1), "--fixed " + item);
  }
  return fixed;
}

// Placeholders of a --command template: {name}.
std::vector<std::string> Placeholders(const std::string& text) {
  std::vector<std::string> names;
  static const std::regex kPlaceholder(R"(\{([A-Za-z0-9_.\-]+)\})");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kPlaceholder);
       it != std::sregex_iterator(); ++it)
    names.push_back((*it)[1]);
  return names;
}

std::string Substitute(const std::string& text, const nlohmann::json& values) {
  std::string out;
  static const std::regex kPlaceholder(R"(\{([A-Za-z0-9_.\-]+)\})");
  size_t last = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kPlaceholder);
       it != std::sregex_iterator(); ++it) {
    out += text.substr(last, it->position() - last);
    const std::string name = (*it)[1];
    out += values.contains(name) ? tune::ShellQuote(ValueText(values[name])) : "''";
    last = it->position() + it->length();
  }
  return out + text.substr(last);
}

const std::vector<std::string> kCommandPlaceholders = {"trial", "trial_dir", "metrics_file",
                                                       "curve_file", "seed"};

struct TuneState {
  CommonFlags common;
  std::string data, model, command, study = "study.db", out = "tune_out", space_file,
                                    objectives = "auc:max", thresholds, sampler = "auto",
                                    pruner = "auto";
  std::vector<std::string> fixed;
  int64_t trials = 20, workers = 1, reports = 8;
  double budget_minutes = 0;
  // show / export / report
  std::string show_study, export_trial_out, report_out;
  int64_t export_trial = -1;
  std::string space_model = "dlrm";
};

// What a stored study runs, for show/report/export: reproduce commands.
std::function<std::string(const tune::TrialRecord&)> Reproducer(
    const tune::StudyDefinition& definition) {
  const nlohmann::json extra = definition.extra;
  if (definition.target.rfind(kModelPrefix, 0) == 0) {
    const std::string model = definition.target.substr(std::strlen(kModelPrefix));
    const tune::SearchSpace space = tune::SearchSpace::FromSpec(
        definition.space, tune::TrainDeclarations(model), "the study's space");
    return [=](const tune::TrialRecord& t) {
      nlohmann::json options = extra.value("fixed", nlohmann::json::object());
      options.update(space.ToOptions(t.params));
      std::vector<std::string> words = {"aiok",  "train", "--data",  extra.value("data", "DATA"),
                                        "--out", "model", "--model", model};
      for (const std::string& f : tune::TrainFlags(options))
        words.push_back(tune::ShellQuote(f));
      return fmt::format("{}", fmt::join(words, " "));
    };
  }
  const std::string templ = definition.target.substr(std::strlen(kCommandPrefix));
  const tune::SearchSpace space =
      tune::SearchSpace::FromSpec(definition.space, {}, "the study's space");
  return [=](const tune::TrialRecord& t) {
    nlohmann::json values = space.ToOptions(t.params);
    values["trial"] = t.number;
    values["trial_dir"] = t.output_dir;
    values["metrics_file"] = t.output_dir + "/metrics.json";
    values["curve_file"] = t.output_dir + "/curve.jsonl";
    values["seed"] = extra.value("seed", 0);
    return Substitute(templ, values);
  };
}

tune::StudyView LoadView(const std::string& path) {
  AIOK_CHECK(fs::exists(path), ErrorKind::kUsage, "no study file '{}'", path);
  tune::StudyView view = tune::LoadStudyView(path);
  view.reproduce = Reproducer(view.definition);
  return view;
}

void RunTune(TuneState& s) {
  const RunContext ctx = StartRun(s.common);
  const bool command_mode = !s.command.empty();
  AIOK_CHECK(command_mode || !s.data.empty(), ErrorKind::kUsage,
             "tune: give --data DATASET (and --model) to tune aiok train, or --command");
  AIOK_CHECK(!(command_mode && !s.data.empty()), ErrorKind::kUsage,
             "tune: --data and --command do not go together (a command reads its own data)");
  AIOK_CHECK(!command_mode || !s.space_file.empty(), ErrorKind::kUsage,
             "tune: --command needs --space FILE (its parameters and ranges)");
  if (s.model.empty())
    s.model = "dlrm";
  const std::vector<tune::Objective> objectives = tune::ParseObjectives(s.objectives);
  const std::vector<tune::Threshold> thresholds = tune::ParseThresholds(s.thresholds);
  const nlohmann::json fixed = ParseFixed(s.fixed);

  // The space: built in (model) or from the file, checked against the declarations.
  const std::vector<tune::DeclaredOption> declared =
      command_mode ? std::vector<tune::DeclaredOption>{} : tune::TrainDeclarations(s.model);
  nlohmann::json spec =
      command_mode ? nlohmann::json::object() : tune::BuiltinSpaceSpec(s.model, declared);
  if (!s.space_file.empty())
    spec = tune::SearchSpace::MergeSpecs(spec, LoadConfigFile(s.space_file));
  const std::string source = s.space_file.empty() ? "built-in space of " + s.model : s.space_file;
  const tune::SearchSpace space = tune::SearchSpace::FromSpec(spec, declared, source);
  std::vector<std::string> declared_names;
  for (const auto& d : declared)
    declared_names.push_back(d.name);
  for (const auto& [key, value] : fixed.items()) {
    AIOK_CHECK(command_mode || tune::FindDeclared(declared, key), ErrorKind::kUsage,
               "--fixed {}: not an option of aiok train --model {}{}", key, s.model,
               DidYouMean(key, declared_names));
    AIOK_CHECK(!spec.contains(key), ErrorKind::kUsage,
               "--fixed {}: it is also a parameter of the space; remove it from one of them", key);
  }
  if (command_mode) {
    std::vector<std::string> valid = kCommandPlaceholders;
    for (const auto& p : space.params())
      valid.push_back(p.name);
    for (const auto& [key, value] : fixed.items())
      valid.push_back(key);
    const std::vector<std::string> used = Placeholders(s.command);
    for (const std::string& name : used)
      AIOK_CHECK(std::find(valid.begin(), valid.end(), name) != valid.end(), ErrorKind::kUsage,
                 "--command: unknown placeholder {{{}}} (valid: {}){}", name,
                 fmt::join(valid, ", "), DidYouMean(name, valid));
    for (const auto& p : space.params())
      AIOK_CHECK(std::find(used.begin(), used.end(), p.name) != used.end(), ErrorKind::kConfig,
                 "{}: parameter '{}' does not appear in --command as {{{}}}, so tuning it would "
                 "change nothing",
                 source, p.name, p.name);
  }

  tune::StudyDefinition definition = tune::TrainStudyDefinition(
      s.model, objectives, thresholds, spec, s.data.empty() ? "." : s.data, fixed, ctx.seed);
  if (command_mode)
    definition.target = kCommandPrefix + s.command;
  {
    tune::StudyStore store(s.study);
    store.OpenStudy(definition);
  }

  const int threads = std::max(1, s.common.threads / static_cast<int>(s.workers));
  tune::LaunchBuilder launch;
  if (command_mode) {
    launch = [&](const tune::TrialRecord& trial, const nlohmann::json& options,
                 const std::string& dir) {
      tune::TrialLaunch l;
      nlohmann::json values = fixed;
      values.update(options);
      values["trial"] = trial.number;
      values["trial_dir"] = dir;
      values["metrics_file"] = dir + "/metrics.json";
      values["curve_file"] = dir + "/curve.jsonl";
      values["seed"] = ctx.seed;
      l.argv = {"/bin/sh", "-c", Substitute(s.command, values)};
      l.metrics_file = dir + "/metrics.json";
      l.curve_file = dir + "/curve.jsonl";
      return l;
    };
  } else {
    tune::TrainTrials trials;
    trials.executable = tune::AiokExecutable();
    trials.model = s.model;
    trials.data_dir = fs::absolute(s.data).string();
    trials.fixed = fixed;
    trials.seed = ctx.seed;
    trials.threads = threads;
    trials.reports = s.reports;
    trials.train_rows = tune::DatasetTrainRows(s.data);
    trials.declared = declared;
    launch = tune::MakeTrainLauncher(std::move(trials));
  }

  tune::TunerOptions options;
  options.trials = s.trials;
  options.budget_minutes = s.budget_minutes;
  options.workers = s.workers;
  options.sampler = s.sampler;
  options.pruner = s.pruner;
  options.objectives = objectives;
  options.thresholds = thresholds;
  options.out_dir = s.out;
  if (s.sampler != "auto")
    tune::BuiltinSamplers().Create(s.sampler);  // an unknown name fails before any trial
  if (s.pruner != "auto")
    tune::MakePruner(s.pruner);
  {
    const auto [name, reason] =
        s.sampler == "auto" ? tune::DefaultSampler(s.trials, objectives.size(), space.dims())
                            : std::make_pair(s.sampler, std::string("chosen with --sampler"));
    fmt::print("tune: {} parameters; sampler {} ({}); pruner {}\n", space.dims(), name, reason,
               s.pruner == "auto" ? tune::DefaultPruner(objectives.size()) : s.pruner);
    std::fflush(stdout);  // before the trials' log lines on stderr
  }
  tune::Tuner tuner(s.study, options, space, launch, ctx);
  const tune::TuneSummary summary = tuner.Run();
  fmt::print(
      "tune: this run started {} trials: {} complete, {} pruned, {} failed, {} preempted{}\n",
      summary.started, summary.complete, summary.pruned, summary.failed, summary.preempted,
      summary.budget_reached    ? " (budget spent; rerun the command to continue)"
      : summary.space_exhausted ? " (no unseen configuration left)"
                                : "");
  fmt::print("{}", tune::ShowText(LoadView(s.study)));
}

}  // namespace

void AddTuneCommand(CLI::App& app) {
  auto s = std::make_shared<TuneState>();
  auto* tune = app.add_subcommand(
      "tune", "Search hyper-parameters: trials of aiok train (or any --command) as processes");
  tune->require_subcommand(0, 1);
  tune->add_option("--data", s->data, "dataset directory the trials train on");
  tune->add_option("--model", s->model, "model family (default dlrm); its built-in space is used");
  tune->add_option("--command", s->command,
                   "run this shell command as a trial instead of aiok train: {param} is a "
                   "parameter's value; {metrics_file} is where it writes a JSON object of "
                   "metrics; {curve_file} (optional) gets one JSON line per report "
                   "({\"step\":..,\"progress\":..,metric:..}); also {trial}, {trial_dir}, {seed}");
  tune->add_option("--objectives", s->objectives,
                   "metric:max|min, comma-separated (aiok train: auc, logloss, test_auc, "
                   "train_seconds, samples_per_second, ...)")
      ->capture_default_str();
  tune->add_option("--threshold", s->thresholds,
                   "trials must meet these to count, e.g. auc>=0.78,train_seconds<=60");
  tune->add_option("--trials", s->trials, "trials in the study (all processes together)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  tune->add_option("--budget-minutes", s->budget_minutes,
                   "stop this process after this wall time; running trials are left preempted "
                   "and resume on a rerun (0: no limit)")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  tune->add_option("--workers", s->workers, "trials at once")
      ->check(CLI::Range(int64_t{1}, int64_t{256}))
      ->capture_default_str();
  tune->add_option("--study", s->study, "study database (SQLite); an existing one resumes")
      ->capture_default_str();
  tune->add_option("--out", s->out, "directory for the trials' outputs")->capture_default_str();
  tune->add_option("--space", s->space_file,
                   "YAML search space: narrows or widens the built-in one (a key's fields "
                   "replace the built-in ones; null removes a key; replace: true starts empty)");
  tune->add_option("--fixed", s->fixed, "KEY=VALUE given to every trial (repeatable)");
  tune->add_option("--sampler", s->sampler,
                   fmt::format("auto, {}", fmt::join(tune::BuiltinSamplers().Names(), ", ")))
      ->capture_default_str();
  tune->add_option("--pruner", s->pruner,
                   fmt::format("auto, {}", fmt::join(tune::PrunerNames(), ", ")))
      ->capture_default_str();
  tune->add_option("--reports", s->reports,
                   "validation reports per aiok train trial (sets --eval-every; 0: leave it)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000}))
      ->capture_default_str();
  AddCommonFlags(tune, &s->common);

  auto* show = tune->add_subcommand("show", "Print the best trial or the Pareto front");
  show->add_option("study", s->show_study, "study database")->required();
  show->callback([s] { fmt::print("{}", tune::ShowText(LoadView(s->show_study))); });

  auto* exporter = tune->add_subcommand(
      "export",
      "Write a trial (default: the best) as aiok train flags or a run.yaml train section");
  exporter->add_option("study", s->show_study, "study database")->required();
  exporter->add_option("--trial", s->export_trial, "trial number (default: the best)");
  exporter->add_option("--out", s->export_trial_out,
                       "write YAML ({train: {...}}, for aiok run --config) to this file instead "
                       "of printing the flags");
  exporter->callback([s] {
    const tune::StudyView view = LoadView(s->show_study);
    const tune::TrialRecord* chosen = nullptr;
    if (s->export_trial >= 0) {
      for (const auto& t : view.trials)
        if (t.number == s->export_trial)
          chosen = &t;
      AIOK_CHECK(chosen != nullptr, ErrorKind::kUsage, "export: the study has no trial {}",
                 s->export_trial);
    } else {
      const auto best = tune::BestTrials(view);
      AIOK_CHECK(!best.empty(), ErrorKind::kUsage,
                 "export: no complete trial meets the thresholds yet");
      chosen = best.front();
    }
    if (s->export_trial_out.empty()) {
      fmt::print("{}\n", view.reproduce(*chosen));
      return;
    }
    const auto& d = view.definition;
    AIOK_CHECK(d.target.rfind(kModelPrefix, 0) == 0, ErrorKind::kUsage,
               "export --out: a --command study has no aiok train options; print the command");
    const std::string model = d.target.substr(std::strlen(kModelPrefix));
    const tune::SearchSpace space =
        tune::SearchSpace::FromSpec(d.space, tune::TrainDeclarations(model), "the study's space");
    nlohmann::json train = {{"model", model}};
    train.update(d.extra.value("fixed", nlohmann::json::object()));
    train.update(space.ToOptions(chosen->params));
    WriteFileAtomic(s->export_trial_out, ToYaml(nlohmann::json{{"train", train}}));
    fmt::print("export: trial {} -> {}\n", chosen->number, s->export_trial_out);
  });

  auto* report = tune->add_subcommand(
      "report", "Write the study's report: one self-contained HTML file (or Markdown for .md)");
  report->add_option("study", s->show_study, "study database")->required();
  report->add_option("--out", s->report_out, "report.html or report.md")->required();
  report->callback([s] {
    const tune::StudyView view = LoadView(s->show_study);
    const bool markdown = fs::path(s->report_out).extension() == ".md";
    WriteFileAtomic(s->report_out, markdown ? tune::MarkdownReport(view) : tune::HtmlReport(view));
    fmt::print("report: {} trials -> {}\n", view.trials.size(), s->report_out);
  });

  auto* space = tune->add_subcommand("space", "Print a model's built-in search space (YAML)");
  space->add_option("--model", s->space_model, "model family")->capture_default_str();
  space->callback([s] {
    const auto declared = tune::TrainDeclarations(s->space_model);
    const nlohmann::json spec = tune::BuiltinSpaceSpec(s->space_model, declared);
    tune::SearchSpace::FromSpec(spec, declared, "built-in space");  // it must be valid
    fmt::print("{}", ToYaml(spec));
  });

  tune->callback([s, tune] {
    if (!tune->get_subcommands().empty())
      return;
    RunTune(*s);
  });
}

}  // namespace aiok::cli
