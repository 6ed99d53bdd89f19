#include "aiok/workflow/run_config.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "aiok/core/error.h"
#include "aiok/core/json_fields.h"
#include "aiok/core/options.h"
#include "aiok/data/generator.h"
#include "aiok/etl/pipeline.h"
#include "aiok/models/model.h"
#include "aiok/tune/pruner.h"
#include "aiok/tune/sampler.h"

namespace aiok::workflow {
namespace {

// The keys an options struct declares.
template <typename Options>
std::set<std::string> KeysOf() {
  std::set<std::string> keys;
  const nlohmann::json json = OptionsToJson(Options());  // items() must not outlive it
  for (const auto& [key, value] : json.items())
    keys.insert(key);
  return keys;
}

// Routes each key of the `train` section to the options struct that declares it.
template <typename Options>
void ReadSection(Options& options, const nlohmann::json& section, const std::string& owner) {
  const std::set<std::string> keys = KeysOf<Options>();
  nlohmann::json mine = nlohmann::json::object();
  for (const auto& [key, value] : section.items()) {
    if (keys.count(key))
      mine[key] = value;
  }
  OptionsFromJson(options, mine, owner);
}

void CheckKeys(const nlohmann::json& section, const std::set<std::string>& valid,
               const std::string& owner) {
  AIOK_CHECK(section.is_object(), ErrorKind::kConfig, "{}: expected a mapping", owner);
  for (const auto& [key, value] : section.items()) {
    if (!valid.count(key)) {
      std::string names;
      for (const auto& name : valid)
        names += (names.empty() ? "" : ", ") + name;
      Throw(ErrorKind::kConfig, "{}: unknown key '{}' (valid: {})", owner, key, names);
    }
  }
}

}  // namespace

std::string RunConfig::SyntheticGenerator() const {
  if (!generator.empty())
    return generator;
  return train.model == "dien" ? "sequences" : "criteo";
}

nlohmann::json RunConfig::ResolvedSynthetic() const {
  AIOK_CHECK(synthetic.is_object(), ErrorKind::kConfig, "data.synthetic: expected a mapping");
  const std::string name = SyntheticGenerator();
  data::GeneratorRegistry registry;
  data::RegisterBuiltinGenerators(registry);
  std::unique_ptr<data::Generator> defaults = registry.Create(name);
  nlohmann::json resolved;
  detail::OptionJsonWriter writer(&resolved);
  defaults->VisitOptions(writer);
  if (name == "criteo")
    resolved["rows"] = kDefaultSyntheticRows;
  for (const auto& [key, value] : synthetic.items()) {
    if (key == "rows" && !resolved.contains("rows") && resolved.contains("users")) {
      // A size in rows, for a generator sized in users: about events-per-user rows each.
      const int64_t per_user = resolved.at("events-per-user").get<int64_t>();
      resolved["users"] = std::max<int64_t>(1, value.get<int64_t>() / per_user);
      continue;
    }
    AIOK_CHECK(resolved.contains(key), ErrorKind::kConfig,
               "data.synthetic: the {} generator has no option '{}' (its options: {})", name, key,
               [&] {
                 std::string names;
                 for (const auto& [option, unused] : resolved.items())
                   names += (names.empty() ? "" : ", ") + option;
                 return names;
               }());
    resolved[key] = value;
  }
  return resolved;
}

std::unique_ptr<data::Generator> RunConfig::MakeSyntheticGenerator() const {
  data::GeneratorRegistry registry;
  data::RegisterBuiltinGenerators(registry);
  auto made = registry.Create(SyntheticGenerator());
  const nlohmann::json options = ResolvedSynthetic();
  detail::OptionJsonReader reader(&options, "data.synthetic");
  made->VisitOptions(reader);
  reader.CheckAllKeysUsed();
  made->Validate();
  return made;
}

RunConfig::RunConfig() {
  // A run checkpoints as it trains so that an interrupted run resumes, and evaluates often
  // enough for the report's training curve.
  train.checkpoint_every = 200;
  train.eval_every = 200;
}

nlohmann::json RunConfig::ToJson() const {
  nlohmann::json train_section = OptionsToJson(train);
  train_section.update(train::ResolvedModelOptions(train, "train"));
  train_section.update(OptionsToJson(loader));
  train_section.update(OptionsToJson(optimizer));
  train_section.erase("resume");  // the run decides that
  return {
      {"data",
       {{"input", input}, {"generator", SyntheticGenerator()}, {"synthetic", ResolvedSynthetic()}}},
      {"etl",
       {{"preset", etl_preset},
        {"freq_threshold", freq_threshold},
        {"on_error", on_error},
        {"split", split},
        {"label", label},
        {"schema", schema},
        {"pipeline", pipeline},
        {"task", task},
        {"positive", positive}}},
      {"train", train_section},
      {"tune", OptionsToJson(tune)},
      {"ranks", ranks},
      {"seed", seed}};
}

RunConfig RunConfig::FromJson(const nlohmann::json& json, const std::string& source) {
  RunConfig config;
  if (json.is_null())
    return config;
  CheckKeys(json, {"data", "etl", "train", "tune", "ranks", "seed"}, source);
  const JsonField file(json, source, ErrorKind::kConfig);
  try {
    if (json.contains("data")) {
      const nlohmann::json& data = json.at("data");
      CheckKeys(data, {"input", "generator", "synthetic"}, source + ": data");
      config.input = file["data"].Get<std::string>("input", "");
      config.generator = file["data"].Get<std::string>("generator", "");
      if (data.contains("synthetic"))
        config.synthetic = data.at("synthetic");
    }
    if (json.contains("etl")) {
      const nlohmann::json& etl = json.at("etl");
      CheckKeys(etl,
                {"preset", "freq_threshold", "on_error", "split", "label", "schema", "pipeline",
                 "task", "positive"},
                source + ": etl");
      const JsonField fields = file["etl"];
      config.etl_preset = fields.Get<std::string>("preset", config.etl_preset);
      config.freq_threshold = fields.Get<int64_t>("freq_threshold", config.freq_threshold);
      config.on_error = fields.Get<std::string>("on_error", config.on_error);
      config.split = fields.Get<std::string>("split", config.split);
      config.label = fields.Get<std::string>("label", config.label);
      config.schema = fields.Get<std::string>("schema", config.schema);
      config.pipeline = fields.Get<std::string>("pipeline", config.pipeline);
      config.task = fields.Get<std::string>("task", config.task);
      config.positive = fields.Get<std::string>("positive", config.positive);
    }
    if (json.contains("train")) {
      const nlohmann::json& section = json.at("train");
      std::set<std::string> valid = KeysOf<train::TrainOptions>();
      for (const auto& keys : {KeysOf<loader::LoaderOptions>(), KeysOf<train::OptimizerOptions>()})
        valid.insert(keys.begin(), keys.end());
      // The model's own options (e.g. DLRM's preset) depend on which model the section names.
      ReadSection(config.train, section, source + ": train");
      const nlohmann::json model_defaults =
          models::BuiltinModels().ResolveOptions(config.train.model, {}, source + ": train");
      for (const auto& [key, value] : model_defaults.items()) {
        valid.insert(key);
        if (section.contains(key))
          config.train.model_options[key] = section.at(key);
      }
      CheckKeys(section, valid, source + ": train");
      ReadSection(config.loader, section, source + ": train");
      config.batch_size_given = section.contains("batch-size");
      ReadSection(config.optimizer, section, source + ": train");
    }
    if (json.contains("tune")) {
      AIOK_CHECK(json.at("tune").is_object(), ErrorKind::kConfig, "{}: tune: expected a mapping",
                 source);
      OptionsFromJson(config.tune, json.at("tune"), source + ": tune");
    }
    config.ranks = file.Get<int64_t>("ranks", config.ranks);
    config.seed = file.Get<uint64_t>("seed", config.seed);
  } catch (const nlohmann::json::exception& e) {
    Throw(ErrorKind::kConfig, "{}: {}", source, e.what());
  }
  config.Validate();
  return config;
}

void RunConfig::Validate() const {
  const std::vector<std::string> presets = etl::PresetNames();
  AIOK_CHECK(
      etl_preset.empty() || std::find(presets.begin(), presets.end(), etl_preset) != presets.end(),
      ErrorKind::kConfig,
      "etl.preset must be '' (criteo on Criteo's layout, else the default chains) or one "
      "of {}, got '{}'",
      fmt::join(presets, ", "), etl_preset);
  if (input.empty()) {
    try {
      MakeSyntheticGenerator();
    } catch (const Error& e) {
      Throw(ErrorKind::kConfig, "data.synthetic: {}", e.what());
    }
  }
  AIOK_CHECK(task == "auto" || task == "binary" || task == "regression", ErrorKind::kConfig,
             "etl.task must be auto, binary or regression, got '{}'", task);
  AIOK_CHECK(ranks >= 1 && ranks <= kMaxRanks, ErrorKind::kConfig,
             "ranks must be from 1 to {} (data-parallel training ranks), got {}", kMaxRanks, ranks);
  AIOK_CHECK(!batch_size_given || loader.batch_size % ranks == 0, ErrorKind::kConfig,
             "train.batch-size {} is the global batch, shared evenly by the ranks: it must be a "
             "multiple of ranks ({})",
             loader.batch_size, ranks);
  AIOK_CHECK(freq_threshold >= 1, ErrorKind::kConfig, "etl.freq_threshold must be >= 1");
  AIOK_CHECK(on_error == "fail" || on_error == "skip", ErrorKind::kConfig,
             "etl.on_error must be fail or skip, got '{}'", on_error);
  ValidateOptions(train, "train");
  train::ResolvedModelOptions(train, "train");
  ValidateOptions(loader, "train");
  ValidateOptions(optimizer, "train");
  ValidateOptions(tune, "tune");
  std::vector<std::string> samplers = tune::BuiltinSamplers().Names();
  samplers.insert(samplers.begin(), "auto");
  std::vector<std::string> pruners = tune::PrunerNames();
  pruners.insert(pruners.begin(), "auto");
  AIOK_CHECK(std::find(samplers.begin(), samplers.end(), tune.sampler) != samplers.end(),
             ErrorKind::kConfig, "tune.sampler must be one of {}, got '{}'",
             fmt::join(samplers, ", "), tune.sampler);
  AIOK_CHECK(std::find(pruners.begin(), pruners.end(), tune.pruner) != pruners.end(),
             ErrorKind::kConfig, "tune.pruner must be one of {}, got '{}'",
             fmt::join(pruners, ", "), tune.pruner);
}

int64_t RunConfig::TrainBatchSize(int64_t train_rows) const {
  int64_t batch = loader.batch_size;
  if (batch_size_given)
    return batch;
  while (batch > 256 && train_rows / batch < 300)
    batch /= 2;
  return batch;
}

RunConfig RunConfig::WithTrainOptions(const nlohmann::json& options,
                                      const std::string& source) const {
  RunConfig out = *this;
  nlohmann::json model_options = nlohmann::json::object();
  const nlohmann::json model_defaults =
      models::BuiltinModels().ResolveOptions(train.model, {}, source);
  std::set<std::string> known;
  for (const auto& keys : {KeysOf<train::TrainOptions>(), KeysOf<loader::LoaderOptions>(),
                           KeysOf<train::OptimizerOptions>()})
    known.insert(keys.begin(), keys.end());
  for (const auto& [key, value] : options.items()) {
    if (model_defaults.contains(key))
      out.train.model_options[key] = value;
    else
      AIOK_CHECK(known.count(key) > 0, ErrorKind::kConfig,
                 "{}: '{}' is not an option of aiok train --model {}", source, key, train.model);
  }
  ReadSection(out.train, options, source);
  ReadSection(out.loader, options, source);
  ReadSection(out.optimizer, options, source);
  if (options.contains("batch-size"))
    out.batch_size_given = true;
  out.Validate();
  return out;
}

}  // namespace aiok::workflow
