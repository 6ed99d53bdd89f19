#include "aiok/workflow/click_to_run.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>

#include "aiok/core/atomic_file.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/core/json_fields.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/positional_io.h"
#include "aiok/core/progress.h"
#include "aiok/data/dataset.h"
#include "aiok/etl/etl_runner.h"
#include "aiok/serving/bundle.h"
#include "aiok/train/trainer.h"
#include "aiok/workflow/bundle_evaluation.h"
#include "aiok/workflow/ranked_training.h"
#include "aiok/workflow/run_report.h"
#include "aiok/workflow/run_tuning.h"

namespace aiok::workflow {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The train section as the tune and train stage keys take it: without the options that
// change how a run behaves but not what it computes (--rank-timeout), so changing one
// neither starts a study over nor retrains.
nlohmann::json TrainKeyOptions(nlohmann::json train) {
  train.erase("rank-timeout");
  return train;
}

// What identifies a file's contents for stage keys: path, size and modification time.
nlohmann::json FileIdentity(const std::string& path) {
  struct stat info {};
  AIOK_CHECK(::stat(path.c_str(), &info) == 0, ErrorKind::kIo, "cannot stat {}", path);
  return {{"path", fs::absolute(path).string()},
          {"bytes", static_cast<int64_t>(info.st_size)},
          {"mtime_ns", static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 +
                           static_cast<int64_t>(info.st_mtim.tv_nsec)}};
}

bool AllExist(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    if (!fs::exists(path))
      return false;
  }
  return true;
}

// DIR/run_state.json: per finished stage, the key it ran with, its time and its summary.
class StageBook {
 public:
  explicit StageBook(std::string path) : path_(std::move(path)) {
    if (fs::exists(path_))
      state_ = nlohmann::json::parse(ReadFile(path_), nullptr, /*allow_exceptions=*/false);
    if (!state_.is_object() || !state_.contains("stages"))
      state_ = {{"stages", nlohmann::json::object()}};
  }

  bool Done(const std::string& name, const nlohmann::json& key) const {
    const auto& stages = state_.at("stages");
    return stages.contains(name) && stages.at(name).at("key") == key;
  }
  const nlohmann::json& Entry(const std::string& name) const {
    return state_.at("stages").at(name);
  }
  void Record(const std::string& name, const nlohmann::json& key, double seconds,
              const nlohmann::json& summary) {
    state_["stages"][name] = {{"key", key}, {"seconds", seconds}, {"summary", summary}};
    WriteFileAtomic(path_, state_.dump(2) + "\n");
  }
  void Forget(const std::string& name) {
    if (!state_["stages"].contains(name))
      return;
    state_["stages"].erase(name);
    WriteFileAtomic(path_, state_.dump(2) + "\n");
  }

 private:
  std::string path_;
  nlohmann::json state_;
};

// Runs the stages in order, skipping the unchanged ones.
class StageRunner {
 public:
  StageRunner(StageBook* book, int total) : book_(book), total_(total) {}

  /// `run` returns the stage's summary; a summary with "resumed": true marks a resumed stage.
  const nlohmann::json& Run(const std::string& name, const nlohmann::json& key,
                            const std::vector<std::string>& outputs,
                            const std::function<nlohmann::json()>& run) {
    ++index_;
    if (book_->Done(name, key) && AllExist(outputs)) {
      spdlog::info("run [{}/{}] {}: unchanged, skipped", index_, total_, name);
      outcomes_.push_back({name, "skipped", 0.0});
      return book_->Entry(name).at("summary");
    }
    spdlog::info("run [{}/{}] {} ...", index_, total_, name);
    book_->Forget(name);
    const auto start = Clock::now();
    const nlohmann::json summary = run();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    book_->Record(name, key, seconds, summary);
    const bool resumed = summary.value("resumed", false);
    outcomes_.push_back({name, resumed ? "resumed" : "ran", seconds});
    spdlog::info("run [{}/{}] {}: done in {}", index_, total_, name, HumanSeconds(seconds));
    return book_->Entry(name).at("summary");
  }

  const std::vector<StageOutcome>& outcomes() const { return outcomes_; }

 private:
  StageBook* book_;
  int total_;
  int index_ = 0;
  std::vector<StageOutcome> outcomes_;
};

// Refuses to write into a directory that holds something other than an earlier run.
void CheckRunDirectory(const std::string& out_dir) {
  if (!fs::exists(out_dir) || fs::is_empty(out_dir))
    return;
  AIOK_CHECK(
      fs::exists(out_dir + "/run_state.json") || fs::exists(out_dir + "/run.yaml"), ErrorKind::kIo,
      "{} exists and is not an aiok run directory; choose another --out or remove it", out_dir);
}

// The file a built-in generator writes the rows to.
std::string SyntheticDataFile(const std::string& generator) {
  if (generator == "sequences")
    return "events.csv";
  if (generator == "tabular")
    return "mixed.csv";
  return "train.txt";
}

nlohmann::json RunDatagen(const RunConfig& config, const std::string& dir, const RunContext& ctx) {
  const data::GeneratorSummary s = config.MakeSyntheticGenerator()->Generate(ctx, dir);
  return {{"rows", s.rows},
          {"bytes", s.bytes},
          {"positive_rate", s.positive_rate},
          {"bayes_auc", s.bayes_auc},
          {"file", s.data_file}};
}

nlohmann::json RunEtl(const RunConfig& config, const std::string& input, const std::string& dir,
                      const RunContext& ctx) {
  etl::EtlRequest request;
  request.input = input;
  request.out_dir = dir;
  request.schema_file = config.schema;
  request.label = config.label;
  request.task = config.task;
  request.positive = config.positive;
  request.pipeline_file = config.pipeline;
  request.preset = config.etl_preset;
  request.freq_threshold = config.freq_threshold;
  request.on_error = data::ParseOnError(config.on_error);
  request.split_rule = config.split;
  const etl::EtlOutcome outcome = etl::RunEtl(request, ctx);
  const etl::EtlSummary& s = outcome.summary;
  const data::DatasetSchema schema = data::ReadDatasetSchema(dir);
  nlohmann::json splits = nlohmann::json::object();
  for (const data::SplitInfo& split : schema.splits)
    splits[split.name] = split.rows;
  int64_t embedding_rows = 0;
  for (int64_t c : schema.features.cardinalities())
    embedding_rows += c;
  for (const auto& field : schema.features.jagged)
    embedding_rows += field.cardinality;
  return {{"input", input},
          {"rows", s.rows},
          {"rejected", s.rejected},
          {"seconds", s.seconds},
          {"splits", splits},
          {"embedding_rows", embedding_rows},
          {"dense_columns", schema.features.dense.size()},
          {"categorical_columns", schema.features.categorical.size()},
          {"list_columns", schema.features.jagged.size()},
          {"task", data::TaskName(schema.features.task)},
          {"schema_inferred", outcome.inferred},
          {"schema", outcome.schema.ToJson()},
          {"pipeline", schema.pipeline},
          {"label_mapping", schema.label_mapping}};
}

nlohmann::json RunTraining(const RunConfig& config, const nlohmann::json& key,
                           const std::string& dataset, const std::string& dir,
                           const RunContext& ctx) {
  // A checkpoint is resumed only if it was made by a run with the same key.
  const std::string key_file = dir + "/run_key.json";
  const bool resumable = fs::exists(dir + "/checkpoint/position.json") && fs::exists(key_file) &&
                         nlohmann::json::parse(ReadFile(key_file), nullptr, false) == key;
  if (!resumable) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    WriteFileAtomic(key_file, key.dump(2) + "\n");
  } else {
    spdlog::info("run: resuming the interrupted training from {}/checkpoint", dir);
  }
  const int64_t batch_size =
      config.TrainBatchSize(data::ReadDatasetSchema(dataset).split("train").rows);
  if (config.ranks > 1) {
    TrainOnRanks(config, batch_size, dataset, dir, ctx);
  } else {
    train::TrainOptions options = config.train;
    options.data_dir = dataset;
    options.out_dir = dir;
    options.resume = true;
    loader::LoaderOptions loader = config.loader;
    loader.batch_size = batch_size;
    train::Train(options, loader, config.optimizer, ctx);
  }
  // The result as the trainer wrote it, in or out of this process (regression: no AUC).
  const std::string metrics_file = dir + "/metrics.json";
  const nlohmann::json document = LoadConfigFile(metrics_file);
  const JsonField metrics(document, metrics_file, ErrorKind::kInvalidInput);
  return {{"resumed", resumable},
          {"batch_size", batch_size},
          {"ranks", config.ranks},
          {"steps", metrics["train"]["steps"].Get<int64_t>()},
          {"train_seconds", metrics["train"]["wall_seconds"].Get<double>()},
          {"samples_per_second", metrics["train"]["samples_per_second"].Get<double>()},
          {"valid_auc", metrics["valid"].Get<double>("auc", 0.0)},
          {"test_auc", metrics["test"].Get<double>("auc", 0.0)}};
}

// A request with a row of the input's first fields (placeholder values of their types), for
// the report's curl line.
nlohmann::json ExampleRequest(const nlohmann::json& etl_summary) {
  nlohmann::json row = nlohmann::json::object();
  if (!etl_summary.contains("schema"))
    return {{"rows", {{{"I1", 3}, {"C1", "68fd1e64"}}}}};
  for (const auto& field : etl_summary.at("schema").at("fields")) {
    const std::string role = field.at("role");
    if (role == "label" || role == "weight" || role == "ignored" || row.size() == 3)
      continue;
    const std::string type = field.at("type");
    nlohmann::json value = "a";
    if (field.value("encoding", "") == "hex")
      value = "68fd1e64";
    else if (type == "int64" || type == "uint64")
      value = 3;
    else if (type == "float64")
      value = 0.5;
    else if (type == "timestamp")
      value = "2024-03-01 12:00:00";
    if (type.rfind("list<", 0) == 0)
      value =
          nlohmann::json::array({type == "list<string>" ? nlohmann::json("a") : nlohmann::json(1)});
    row[field.at("name").get<std::string>()] = value;
  }
  return {{"rows", {row}}};
}

}  // namespace

RunOutcome ClickToRun(const RunConfig& config, const std::string& out_dir,
                      const RunContext& run_ctx) {
  config.Validate();
  AIOK_CHECK(config.input.empty() || fs::exists(config.input), ErrorKind::kIo,
             "--data {}: no such file (expected a CSV/TSV or Parquet file)", config.input);
  if (!config.input.empty())
    CheckRegularFile(config.input);
  // The stages replace these outputs as a whole; none may hold (or be) an input of the run.
  for (const char* output : {"dataset", "tune", "model", "bundle", "evaluation.json", "report.json",
                             "report.md", "report.html", "run_state.json"}) {
    const std::string path = out_dir + "/" + output;
    CheckOutputKeepsInput(config.input, "--data", path, "the run's output");
    CheckOutputKeepsInput(config.schema, "--schema", path, "the run's output");
    CheckOutputKeepsInput(config.pipeline, "--pipeline", path, "the run's output");
    CheckOutputKeepsInput(config.tune.space, "tune.space", path, "the run's output");
  }
  CheckRunDirectory(out_dir);
  if (config.ranks > 1)
    CheckMpirunFound();  // before the data stages, which may take long
  fs::create_directories(out_dir);
  RunContext ctx = run_ctx;
  ctx.seed = config.seed;
  const nlohmann::json config_json = config.ToJson();
  WriteFileAtomic(out_dir + "/run.yaml",
                  "# aiok run: the effective configuration (pass it back with --config)\n" +
                      ToYaml(config_json));

  const bool synthetic = config.input.empty();
  StageBook book(out_dir + "/run_state.json");
  const bool tuning = config.tune.trials > 0;
  const int stage_count = (synthetic ? 6 : 5) + (tuning ? 1 : 0);
  StageRunner stages(&book, stage_count);
  const auto start = Clock::now();

  const std::string data_dir = out_dir + "/data";
  const std::string generator = config.SyntheticGenerator();
  const std::string input =
      synthetic ? data_dir + "/" + SyntheticDataFile(generator) : config.input;
  nlohmann::json datagen_summary;
  if (synthetic) {
    const nlohmann::json key = {
        {"generator", generator}, {"options", config.ResolvedSynthetic()}, {"seed", config.seed}};
    datagen_summary =
        stages.Run("datagen", key, {input, data_dir + "/truth.f32", data_dir + "/datagen.json"},
                   [&] { return RunDatagen(config, data_dir, ctx); });
  }

  const std::string dataset_dir = out_dir + "/dataset";
  nlohmann::json etl_key = {{"input", FileIdentity(input)}, {"etl", config_json.at("etl")}};
  if (!config.schema.empty())
    etl_key["schema_file"] = FileIdentity(config.schema);
  if (!config.pipeline.empty())
    etl_key["pipeline_file"] = FileIdentity(config.pipeline);
  // Synthetic behaviour logs come with their schema (histories are sequences, which inference
  // cannot tell from lists) and a preset that gives histories their target's dictionary.
  RunConfig etl_config = config;
  if (synthetic && generator == "sequences") {
    if (etl_config.schema.empty())
      etl_config.schema = data_dir + "/schema.yaml";
    if (etl_config.etl_preset.empty() && etl_config.pipeline.empty())
      etl_config.etl_preset = "sequences";
  }
  const nlohmann::json etl_summary =
      stages.Run("etl", etl_key, {dataset_dir + "/schema.json"},
                 [&] { return RunEtl(etl_config, input, dataset_dir, ctx); });

  // Tuning: trials of aiok train on the dataset; the final training takes the chosen values.
  RunConfig train_config = config;
  nlohmann::json tune_summary;
  if (tuning) {
    const std::string tune_dir = out_dir + "/tune";
    nlohmann::json tune_key = {{"dataset", FileIdentity(dataset_dir + "/schema.json")},
                               {"train", TrainKeyOptions(config_json.at("train"))},
                               {"tune", config_json.at("tune")},
                               {"seed", config.seed}};
    if (!config.tune.space.empty())
      tune_key["space_file"] = FileIdentity(config.tune.space);
    // More trials or another budget continue the same study; anything else starts over.
    nlohmann::json study_key = tune_key;
    for (const char* budget : {"trials", "budget_minutes", "workers"})
      study_key["tune"].erase(budget);
    tune_summary = stages.Run("tune", tune_key, {tune_dir + "/study.db"}, [&] {
      return RunTuningStage(config, study_key, dataset_dir, tune_dir, ctx);
    });
    train_config = config.WithTrainOptions(tune_summary.at("chosen").at("options"),
                                           "the tuning stage's chosen trial");
  }

  const std::string model_dir = out_dir + "/model";
  const nlohmann::json train_key = {{"dataset", FileIdentity(dataset_dir + "/schema.json")},
                                    {"train", TrainKeyOptions(train_config.ToJson().at("train"))},
                                    {"seed", config.seed}};
  stages.Run("train", train_key, {model_dir + "/metrics.json", model_dir + "/model.pt"},
             [&] { return RunTraining(train_config, train_key, dataset_dir, model_dir, ctx); });

  const std::string bundle_dir = out_dir + "/bundle";
  const nlohmann::json bundle_key = {{"model", FileIdentity(model_dir + "/model.pt")},
                                     {"metrics", FileIdentity(model_dir + "/metrics.json")},
                                     {"dataset", FileIdentity(dataset_dir + "/schema.json")}};
  stages.Run("bundle", bundle_key, {bundle_dir + "/bundle.json"}, [&] {
    const nlohmann::json manifest = serving::WriteBundle(dataset_dir, model_dir, bundle_dir);
    int64_t bytes = 0;
    for (const auto& [name, file] : manifest.at("files").items())
      bytes += file.at("bytes").get<int64_t>();
    return nlohmann::json{{"path", bundle_dir}, {"bytes", bytes}};
  });

  const std::string evaluation_file = out_dir + "/evaluation.json";
  const nlohmann::json evaluate_key = {{"bundle", FileIdentity(bundle_dir + "/bundle.json")}};
  stages.Run("evaluate", evaluate_key, {evaluation_file}, [&] {
    nlohmann::json evaluation = EvaluateBundleOnSplit(bundle_dir, dataset_dir, "test", ctx);
    WriteFileAtomic(evaluation_file, evaluation.dump(2) + "\n");
    return nlohmann::json{{"auc", evaluation.at("auc")}, {"rows", evaluation.at("rows")}};
  });

  // The report is cheap and always rewritten: it shows this invocation's stage statuses.
  RunOutcome outcome;
  outcome.bundle_dir = bundle_dir;
  const auto report_start = Clock::now();
  spdlog::info("run [{}/{}] report ...", stage_count, stage_count);
  nlohmann::json stage_table = nlohmann::json::array();
  for (const StageOutcome& s : stages.outcomes()) {
    stage_table.push_back({{"name", s.name},
                           {"status", s.status},
                           {"seconds_this_run", s.seconds},
                           {"seconds_when_run", book.Entry(s.name).at("seconds")}});
  }
  const nlohmann::json metrics = nlohmann::json::parse(ReadFile(model_dir + "/metrics.json"));
  const nlohmann::json evaluation = nlohmann::json::parse(ReadFile(evaluation_file));
  const std::string bundle_abs = fs::absolute(bundle_dir).string();
  outcome.report = {
      {"out_dir", fs::absolute(out_dir).string()},
      {"config", config_json},
      {"threads", ctx.threads},
      {"data",
       {{"synthetic", synthetic},
        {"input", fs::absolute(input).string()},
        {"datagen", datagen_summary},
        {"etl", etl_summary}}},
      {"stages", stage_table},
      {"train",
       {{"precision", metrics.at("precision")},
        {"architecture", metrics.at("architecture")},
        {"train", metrics.at("train")},
        {"curve", metrics.at("curve")},
        {"valid", metrics.at("valid")},
        {"test", metrics.at("test")}}},
      {"evaluation", evaluation},
      {"tune", tune_summary},
      {"bundle", bundle_abs},
      {"commands",
       {{"predict", fmt::format("build/aiok predict --model {} --input ROWS.tsv --out "
                                "predictions.txt",
                                bundle_abs)},
        {"serve", fmt::format("build/aiok serve --model {} --port 8080", bundle_abs)},
        {"example_request", ExampleRequest(etl_summary).dump()},
        {"rerun", fmt::format("build/aiok run --config {}/run.yaml --out {}",
                              fs::absolute(out_dir).string(), fs::absolute(out_dir).string())}}}};
  outcome.report["seconds_this_run"] = std::chrono::duration<double>(Clock::now() - start).count();
  WriteFileAtomic(out_dir + "/report.json", outcome.report.dump(2) + "\n");
  WriteFileAtomic(out_dir + "/report.md", RenderReportMarkdown(outcome.report));
  WriteFileAtomic(out_dir + "/report.html", RenderReportHtml(outcome.report));
  outcome.stages = stages.outcomes();
  outcome.stages.push_back(
      {"report", "ran", std::chrono::duration<double>(Clock::now() - report_start).count()});
  return outcome;
}

}  // namespace aiok::workflow
