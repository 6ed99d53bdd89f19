#include "aiok/tune/train_study.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>

#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/loader/data_loader.h"
#include "aiok/models/model.h"
#include "aiok/train/optimizer_options.h"
#include "aiok/train/trainer.h"

namespace aiok::tune {
namespace {
namespace fs = std::filesystem;

std::string ValueText(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

std::vector<DeclaredOption> TrainDeclarations(const std::string& model) {
  DeclarationCollector collector;
  train::TrainOptions train;
  loader::LoaderOptions loader;
  train::OptimizerOptions optimizer;
  collector.SetOwner("train");
  train.Visit(collector);
  collector.SetOwner("loader");
  loader.Visit(collector);
  collector.SetOwner("optimizer");
  optimizer.Visit(collector);
  collector.SetOwner(model);
  models::BuiltinModels().DefaultOptions(model)->Visit(collector);
  // What a trial must not choose: which model it is, and how it resumes.
  std::vector<DeclaredOption> out;
  for (const DeclaredOption& d : collector.options())
    if (d.name != "model" && d.name != "resume")
      out.push_back(d);
  return out;
}

std::vector<std::string> TrainFlags(const nlohmann::json& options) {
  std::vector<std::string> flags;
  for (const auto& [key, value] : options.items()) {
    if (value.is_boolean()) {
      flags.push_back((value.get<bool>() ? "--" : "--no-") + key);
    } else {
      flags.push_back("--" + key);
      flags.push_back(ValueText(value));
    }
  }
  return flags;
}

std::vector<std::string> TrainCommandLine(const std::string& executable, const std::string& model,
                                          const std::string& data_dir, const std::string& out_dir,
                                          uint64_t seed, int threads,
                                          const nlohmann::json& options) {
  std::vector<std::string> argv = {executable,  "train",
                                   "--data",    data_dir,
                                   "--out",     out_dir,
                                   "--model",   model,
                                   "--seed",    std::to_string(seed),
                                   "--threads", std::to_string(threads)};
  for (std::string& flag : TrainFlags(options))
    argv.push_back(std::move(flag));
  return argv;
}

nlohmann::json ChangedOptions(const std::vector<DeclaredOption>& declared,
                              const nlohmann::json& options) {
  nlohmann::json changed = nlohmann::json::object();
  for (const auto& [key, value] : options.items()) {
    const DeclaredOption* d = FindDeclared(declared, key);
    AIOK_CHECK(d != nullptr, ErrorKind::kInternal, "'{}' is not a declared aiok train option", key);
    if (d->default_value != value)
      changed[key] = value;
  }
  return changed;
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_.,/:=+@%") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string AiokExecutable() {
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  AIOK_CHECK(n > 0, ErrorKind::kIo, "cannot find the aiok executable");
  exe[n] = '\0';
  return exe;
}

int64_t DatasetTrainRows(const std::string& data_dir) {
  const nlohmann::json schema = LoadConfigFile(data_dir + "/schema.json");
  AIOK_CHECK(schema.contains("splits") && schema["splits"].contains("train"),
             ErrorKind::kInvalidInput, "'{}/schema.json' has no train split", data_dir);
  return schema["splits"]["train"].value("rows", int64_t{0});
}

LaunchBuilder MakeTrainLauncher(TrainTrials t) {
  return [t = std::move(t)](const TrialRecord& /*trial*/, const nlohmann::json& options,
                            const std::string& dir) {
    TrialLaunch l;
    nlohmann::json all = t.fixed;
    all.update(options);
    const std::string model_dir = dir + "/model";
    // Evaluate about `reports` times per run so the pruner sees a curve.
    if (!all.contains("eval-every") && t.reports > 0) {
      const DeclaredOption* epochs_decl = FindDeclared(t.declared, "epochs");
      const DeclaredOption* batch_decl = FindDeclared(t.declared, "batch-size");
      AIOK_ASSERT(epochs_decl != nullptr && batch_decl != nullptr);
      const int64_t epochs = all.value("epochs", epochs_decl->default_value.get<int64_t>());
      const int64_t batch = all.value("batch-size", batch_decl->default_value.get<int64_t>());
      int64_t steps = epochs * ((t.train_rows + batch - 1) / batch);
      if (all.contains("max-steps") && all["max-steps"].get<int64_t>() > 0)
        steps = std::min(steps, all["max-steps"].get<int64_t>());
      all["eval-every"] = std::max<int64_t>(1, (steps + t.reports - 1) / t.reports);
    }
    l.argv = TrainCommandLine(t.executable, t.model, t.data_dir, model_dir, t.seed, t.threads, all);
    l.argv.push_back("-q");
    l.metrics_file = model_dir + "/metrics.json";
    l.curve_file = model_dir + "/curve.jsonl";
    l.train_format = true;
    return l;
  };
}

StudyDefinition TrainStudyDefinition(const std::string& model,
                                     const std::vector<Objective>& objectives,
                                     const std::vector<Threshold>& thresholds,
                                     const nlohmann::json& space_spec, const std::string& data_dir,
                                     const nlohmann::json& fixed, uint64_t seed) {
  StudyDefinition d;
  d.target = kModelTargetPrefix + model;
  d.objectives = nlohmann::json::array();
  for (const Objective& o : objectives)
    d.objectives.push_back(o.ToString());
  d.thresholds = nlohmann::json::array();
  for (const Threshold& t : thresholds)
    d.thresholds.push_back(t.ToString());
  d.space = space_spec;
  d.extra = {{"data", fs::absolute(data_dir).string()}, {"fixed", fixed}, {"seed", seed}};
  return d;
}

}  // namespace aiok::tune
