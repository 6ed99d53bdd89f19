#include "aiok/train/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/core/torch_threads.h"
#include "aiok/data/mapped_file.h"
#include "aiok/models/dlrm.h"
#include "aiok/models/dlrm_inference.h"
#include "aiok/models/precision.h"
#include "aiok/train/schedule.h"

namespace aiok::train {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

models::DlrmOptions ModelOptions(const TrainOptions& o, const data::DatasetSchema& schema) {
  models::DlrmOptions dlrm;
  dlrm.dense_features = schema.features.dense_width();
  dlrm.table_sizes = schema.features.cardinalities();
  models::ApplyDlrmPreset(o.preset, &dlrm);
  if (o.emb_dim > 0) {
    dlrm.embedding_dim = o.emb_dim;
    dlrm.bottom_mlp.back() = o.emb_dim;  // the bottom MLP must end at the embedding width
  }
  if (!o.mlp_bot.empty())
    dlrm.bottom_mlp = models::ParseMlpSizes(o.mlp_bot, dlrm.dense_features);
  if (!o.mlp_top.empty())
    dlrm.top_mlp = models::ParseMlpSizes(o.mlp_top, -1);
  dlrm.interaction = models::ParseInteraction(o.interaction);
  dlrm.embedding_update = models::ParseSparseUpdate(o.embedding_update);
  dlrm.embedding_lr = o.embedding_lr;
  dlrm.Validate();
  return dlrm;
}

// The batch's arrays as tensors: views, no copies (the batch outlives their use).
struct BatchTensors {
  torch::Tensor dense;
  torch::Tensor categorical;
  torch::Tensor labels;
};

BatchTensors ToTensors(const data::FeatureBatch& batch, int64_t n_dense, int64_t n_cat) {
  BatchTensors t;
  t.dense =
      torch::from_blob(const_cast<float*>(batch.dense), {batch.rows, n_dense}, torch::kFloat32);
  t.categorical =
      torch::from_blob(const_cast<int32_t*>(batch.categorical), {batch.rows, n_cat}, torch::kInt32);
  t.labels = torch::from_blob(const_cast<float*>(batch.labels), {batch.rows}, torch::kFloat32);
  return t;
}

SplitMetrics Evaluate(models::Dlrm& model, const std::string& dir, const std::string& split,
                      int64_t batch_size) {
  loader::LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = false;
  options.workers = 1;
  loader::DataLoader loader(dir, split, options);
  std::vector<float> probabilities;
  std::vector<uint8_t> labels;
  probabilities.reserve(static_cast<size_t>(loader.rows()));
  labels.reserve(static_cast<size_t>(loader.rows()));
  // The inference engine `aiok predict` uses: fp32, no autograd, fused GEMM epilogues.
  const models::DlrmInference inference(*model, /*bf16=*/false);
  while (auto batch = loader.Next()) {
    const size_t first = probabilities.size();
    probabilities.resize(first + static_cast<size_t>(batch->rows));
    inference.Predict(batch->dense, batch->categorical, batch->rows, probabilities.data() + first);
    for (int64_t r = 0; r < batch->rows; ++r)
      labels.push_back(static_cast<uint8_t>(batch->labels[r]));
  }
  SplitMetrics m;
  m.rows = static_cast<int64_t>(labels.size());
  m.auc = BinaryAuc(probabilities.data(), labels.data(), labels.size());
  m.logloss = BinaryLogLoss(probabilities.data(), labels.data(), labels.size());
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i)
    correct += (probabilities[i] >= 0.5f) == (labels[i] == 1);
  m.accuracy =
      labels.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(labels.size());
  const auto& info = loader.schema().split(split);
  if (!info.truth_file.empty()) {
    const data::MappedFile truth(dir + "/" + info.truth_file);
    if (truth.size() == labels.size() * sizeof(float)) {
      m.bayes_auc =
          BinaryAuc(reinterpret_cast<const float*>(truth.data()), labels.data(), labels.size());
    }
  }
  return m;
}

// Where a run stands: enough to continue it exactly.
struct Position {
  uint64_t seed = 0;  // the loader's order depends on it: a resumed run must use the same
  int64_t epoch = 0;
  int64_t next_batch = 0;
  int64_t step = 0;
  int64_t samples = 0;
  double train_seconds = 0.0;
  double best_valid_auc = -1.0;  // best valid AUC evaluated so far (-1: none); weights in best.pt
  int64_t best_step = -1;
  int64_t evaluations_since_best = 0;
};

void SaveModelAtomically(models::Dlrm& model, const std::string& path) {
  const std::string temp = path + ".tmp-" + std::to_string(getpid());
  torch::save(model, temp);
  fs::rename(temp, path);
}

void SaveCheckpoint(models::Dlrm& model, const DenseOptimizer& optimizer, const Position& at,
                    const std::string& out_dir) {
  const std::string final_dir = out_dir + "/checkpoint";
  const std::string temp = final_dir + ".tmp-" + std::to_string(getpid());
  fs::remove_all(temp);
  fs::create_directories(temp);
  torch::save(model, temp + "/model.pt");
  torch::serialize::OutputArchive archive;
  optimizer.Save(archive);
  archive.save_to(temp + "/optimizer.pt");
  WriteFileAtomic(temp + "/position.json", nlohmann::json{{"seed", at.seed},
                                                          {"epoch", at.epoch},
                                                          {"next_batch", at.next_batch},
                                                          {"step", at.step},
                                                          {"samples", at.samples},
                                                          {"train_seconds", at.train_seconds},
                                                          {"best_valid_auc", at.best_valid_auc},
                                                          {"best_step", at.best_step},
                                                          {"evaluations_since_best",
                                                           at.evaluations_since_best}}
                                               .dump(2));
  // Replace the previous checkpoint only once the new one is complete.
  const std::string old = final_dir + ".old-" + std::to_string(getpid());
  if (fs::exists(final_dir))
    fs::rename(final_dir, old);
  fs::rename(temp, final_dir);
  fs::remove_all(old);
}

Position LoadCheckpoint(models::Dlrm& model, DenseOptimizer& optimizer,
                        const std::string& out_dir) {
  const std::string dir = out_dir + "/checkpoint";
  torch::load(model, dir + "/model.pt");
  torch::serialize::InputArchive archive;
  archive.load_from(dir + "/optimizer.pt");
  optimizer.Load(archive);
  const auto json = nlohmann::json::parse(ReadFile(dir + "/position.json"));
  Position at;
  at.seed = json.at("seed");
  at.epoch = json.at("epoch");
  at.next_batch = json.at("next_batch");
  at.step = json.at("step");
  at.samples = json.at("samples");
  at.train_seconds = json.at("train_seconds");
  at.best_valid_auc = json.value("best_valid_auc", -1.0);
  at.best_step = json.value("best_step", int64_t{-1});
  at.evaluations_since_best = json.value("evaluations_since_best", int64_t{0});
  return at;
}

}  // namespace

nlohmann::json SplitMetrics::ToJson() const {
  nlohmann::json json = {
      {"rows", rows}, {"auc", auc}, {"logloss", logloss}, {"accuracy", accuracy}};
  if (bayes_auc >= 0) {
    json["bayes_auc"] = bayes_auc;
    json["gap_to_bayes"] = bayes_auc - auc;
  }
  return json;
}

TrainResult Train(const TrainOptions& options, const loader::LoaderOptions& loader_options,
                  const OptimizerOptions& optimizer_options, const RunContext& ctx) {
  ValidateOptions(options, "train");
  UseTorchThreads();
  ApplyThreadSettings(ctx.threads);
  const data::DatasetSchema schema = data::ReadDatasetSchema(options.data_dir);
  const models::DlrmOptions dlrm = ModelOptions(options, schema);
  torch::manual_seed(ctx.seed);
  models::Dlrm model(dlrm);
  auto optimizer = DenseOptimizer::Create(optimizer_options, model->parameters());
  loader::DataLoader train(options.data_dir, "train", loader_options, 0, 1, ctx.seed);
  const int64_t n_dense = schema.features.dense_width();
  const int64_t n_cat = schema.features.categorical_width();
  fs::create_directories(options.out_dir);

  const int64_t steps_per_epoch = train.batches();
  // The learning-rate plan spans the epochs; --max-steps only stops early, so a run cut short
  // by it (and resumed) follows the same plan as an uninterrupted one.
  const int64_t planned_steps = options.epochs * steps_per_epoch;
  const int64_t total_steps =
      options.max_steps > 0 ? std::min(planned_steps, options.max_steps) : planned_steps;
  const ScheduleOptions schedule{options.warmup_steps, options.decay, planned_steps, 0.0};

  Position at;
  at.seed = ctx.seed;
  if (options.resume && fs::exists(options.out_dir + "/checkpoint/position.json")) {
    at = LoadCheckpoint(model, *optimizer, options.out_dir);
    AIOK_CHECK(at.seed == ctx.seed, ErrorKind::kConfig,
               "the checkpoint in {} was made with --seed {}; resume with the same seed (got {})",
               options.out_dir, at.seed, ctx.seed);
    spdlog::info("train: resuming at step {} (epoch {}, batch {})", at.step, at.epoch,
                 at.next_batch);
  }

  TrainResult result;
  const std::string best_path = options.out_dir + "/best.pt";
  const auto run_start = Clock::now();
  std::vector<nlohmann::json> curve;
  std::string last_valid;  // shown in the progress line
  bool reached = false;
  // The weights evaluated last, by step: a run that ends on an evaluation step (or right after
  // the epoch-end evaluation) reuses it instead of scoring the same weights again.
  std::optional<SplitMetrics> last_evaluation;
  int64_t last_evaluation_step = -1;
  auto evaluate_valid = [&] {
    if (last_evaluation && last_evaluation_step == at.step) return *last_evaluation;
    const SplitMetrics valid = Evaluate(model, options.data_dir, "valid", options.eval_batch_size);
    last_evaluation = valid;
    last_evaluation_step = at.step;
    curve.push_back({{"step", at.step},
                     {"train_seconds", at.train_seconds},
                     {"valid_auc", valid.auc},
                     {"valid_logloss", valid.logloss}});
    last_valid = fmt::format(", valid AUC {:.4f}", valid.auc);
    // The progress line shows the last valid AUC; the full record is in metrics.json.
    spdlog::debug("train: step {} valid AUC {:.4f} logloss {:.4f}", at.step, valid.auc,
                  valid.logloss);
    if (valid.auc > at.best_valid_auc) {
      at.best_valid_auc = valid.auc;
      at.best_step = at.step;
      at.evaluations_since_best = 0;
      if (options.keep_best)
        SaveModelAtomically(model, best_path);
    } else {
      ++at.evaluations_since_best;
    }
    if (options.target_auc > 0 && !reached && valid.auc >= options.target_auc) {
      reached = true;
      result.seconds_to_target = at.train_seconds;
      result.wall_seconds_to_target =
          std::chrono::duration<double>(Clock::now() - run_start).count();
    }
    return valid;
  };

  const bool native_bf16 = models::CpuHasNativeBf16();
  const bool bf16 = models::UseBf16(options.precision);
  const std::string precision = bf16 ? "bf16" : "fp32";
  // With a target, evaluate often enough to see it reached.
  const int64_t eval_every =
      options.eval_every > 0 ? options.eval_every : (options.target_auc > 0 ? 100 : 0);
  if (bf16 && !native_bf16) {
    spdlog::warn("train: this CPU has no native bf16 (AVX512-BF16 or AMX); bf16 will be slow");
  }
  Progress progress("train", total_steps, "steps");
  progress.Advance(at.step);
  const int64_t first_step = at.step;
  double loss_average = NAN;
  auto progress_detail = [&] {
    return fmt::format(
        "{} samples/s, loss {:.4f}{}",
        HumanCount(static_cast<double>(at.samples) / std::max(at.train_seconds, 1e-9)),
        loss_average, last_valid);
  };
  auto patience_exhausted = [&] {
    return options.patience > 0 && at.evaluations_since_best >= options.patience;
  };
  bool done = at.step >= total_steps;
  for (int64_t epoch = at.epoch; epoch < options.epochs && !done; ++epoch) {
    train.StartEpoch(epoch, epoch == at.epoch ? at.next_batch : 0);
    for (;;) {
      // A step's time includes waiting for its batch; evaluation and checkpoints are not.
      const auto step_start = Clock::now();
      const std::optional<data::FeatureBatch> batch = train.Next();
      if (!batch)
        break;
      ctx.cancel->ThrowIfCancelled();
      const double factor = LearningRateFactor(schedule, at.step);
      optimizer->SetLr(optimizer_options.lr * factor);
      model->embedding()->set_lr(options.embedding_lr * factor);
      const BatchTensors t = ToTensors(*batch, n_dense, n_cat);
      torch::Tensor logits;
      {
        models::Bf16Autocast autocast(bf16);
        logits = model->forward(t.dense, t.categorical);
      }
      const torch::Tensor loss =
          torch::binary_cross_entropy_with_logits(logits.to(torch::kFloat32), t.labels);
      optimizer->ZeroGrad();
      loss.backward();
      optimizer->Step();
      const double loss_value = loss.item<double>();
      loss_average =
          std::isnan(loss_average) ? loss_value : 0.98 * loss_average + 0.02 * loss_value;
      at.train_seconds += std::chrono::duration<double>(Clock::now() - step_start).count();
      ++at.step;
      at.samples += batch->rows;
      at.epoch = epoch;
      at.next_batch = batch->index + 1;
      progress.SetDetail(progress_detail());
      progress.Advance(1);
      if (eval_every > 0 && at.step % eval_every == 0)
        evaluate_valid();
      if (options.checkpoint_every > 0 && at.step % options.checkpoint_every == 0) {
        SaveCheckpoint(model, *optimizer, at, options.out_dir);
      }
      if (at.step >= total_steps || reached || patience_exhausted()) {
        result.stopped_early = !reached && at.step < total_steps;
        done = true;
        break;
      }
    }
    if (!done) {
      at.epoch = epoch + 1;
      at.next_batch = 0;
    }
    if (eval_every == 0 || done)
      evaluate_valid();
    if (reached)
      done = true;
    if (patience_exhausted()) {
      result.stopped_early = true;
      done = true;
    }
  }
  progress.SetDetail(progress_detail());
  progress.Finish();
  SaveCheckpoint(model, *optimizer, at, options.out_dir);
  // The run's last weights are scored before a better earlier step may replace them.
  result.valid = evaluate_valid();
  if (options.keep_best && at.best_step >= 0 && at.best_step != at.step &&
      fs::exists(best_path)) {
    spdlog::info("train: valid AUC peaked at step {} ({:.4f}; last {:.4f}); keeping those weights",
                 at.best_step, at.best_valid_auc, result.valid.auc);
    torch::load(model, best_path);
    result.restored_best = true;
    result.valid = Evaluate(model, options.data_dir, "valid", options.eval_batch_size);
  }
  result.best_step = at.best_step;
  SaveModelAtomically(model, options.out_dir + "/model.pt");

  result.steps = at.step;
  result.steps_this_run = at.step - first_step;
  result.train_seconds = at.train_seconds;
  result.samples_per_second =
      at.train_seconds > 0 ? static_cast<double>(at.samples) / at.train_seconds : 0.0;
  result.test = Evaluate(model, options.data_dir, "test", options.eval_batch_size);
  nlohmann::json config = OptionsToJson(options);
  config.update(OptionsToJson(loader_options));
  config.update(OptionsToJson(optimizer_options));
  result.metrics = {
      {"model", options.model},
      {"architecture", dlrm.ArchitectureJson()},
      {"config", config},
      {"seed", ctx.seed},
      {"threads", ctx.threads},
      {"precision", precision},
      {"cpu_native_bf16", native_bf16},
      {"train",
       {{"steps", at.step},
        {"samples", at.samples},
        {"wall_seconds", at.train_seconds},
        {"samples_per_second", result.samples_per_second},
        {"final_loss", loss_average}}},
      {"time_to_target_seconds", result.seconds_to_target >= 0
                                     ? nlohmann::json(result.seconds_to_target)
                                     : nlohmann::json(nullptr)},
      {"wall_time_to_target_seconds", result.wall_seconds_to_target >= 0
                                          ? nlohmann::json(result.wall_seconds_to_target)
                                          : nlohmann::json(nullptr)},
      {"best_step", result.best_step},
      {"restored_best", result.restored_best},
      {"stopped_early", result.stopped_early},
      {"valid", result.valid.ToJson()},
      {"test", result.test.ToJson()},
      {"curve", curve}};
  WriteFileAtomic(options.out_dir + "/metrics.json", result.metrics.dump(2) + "\n");
  return result;
}

}  // namespace aiok::train
