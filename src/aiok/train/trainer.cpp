#include "aiok/train/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "aiok/core/error.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/core/torch_threads.h"
#include "aiok/data/dataset.h"
#include "aiok/models/precision.h"
#include "aiok/train/checkpoint.h"
#include "aiok/train/evaluation.h"
#include "aiok/train/metrics_report.h"
#include "aiok/train/model_builder.h"
#include "aiok/train/optimizer.h"
#include "aiok/train/schedule.h"
#include "aiok/train/sparse_optimizer.h"
#include "aiok/train/step.h"

namespace aiok::train {
namespace {
namespace fs = std::filesystem;

// Refuses a dataset that cannot be trained and scored: an empty train or valid split, or,
// for a binary task, a split whose rows all have one label (training learns nothing and AUC
// is undefined: a nan in the metrics instead of an error).
void CheckSplitsCanTrain(const data::DatasetSchema& schema, const std::string& dir) {
  for (const char* split : {"train", "valid"}) {
    const int64_t rows = schema.split(split).rows;
    AIOK_CHECK(rows > 0, ErrorKind::kInvalidInput,
               "{}: the {} split has no rows; nothing to {} (check the ETL's --split and its "
               "rejects)",
               dir, split, std::string(split) == "train" ? "learn from" : "evaluate on");
    if (schema.features.task != data::Task::kBinary)
      continue;
    const data::SplitReader reader(dir, schema, split);
    int64_t positives = 0;
    const std::vector<int64_t> shard_rows = reader.shard_rows();
    for (size_t s = 0; s < shard_rows.size(); ++s) {
      const data::FeatureBatch shard = reader.View(static_cast<int64_t>(s), 0, shard_rows[s]);
      for (int64_t r = 0; r < shard.rows; ++r)
        positives += shard.labels[r] > 0.5f ? 1 : 0;
    }
    AIOK_CHECK(positives > 0 && positives < rows, ErrorKind::kInvalidInput,
               "{}: every one of the {} rows of the {} split has label {}: a binary task needs "
               "both labels there (use another --split, or more data)",
               dir, rows, split, positives > 0 ? 1 : 0);
  }
}
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace

TrainResult Train(const TrainOptions& options, const loader::LoaderOptions& loader_options,
                  const OptimizerOptions& optimizer_options, const RunContext& ctx) {
  ValidateOptions(options, "train");
  ValidateOptions(loader_options, "train");
  ValidateOptions(optimizer_options, "train");
  UseTorchThreads();
  ApplyThreadSettings(ctx.threads);
  const data::DatasetSchema schema = data::ReadDatasetSchema(options.data_dir);
  const data::Task task = schema.features.task;
  CheckSplitsCanTrain(schema, options.data_dir);
  AIOK_CHECK(options.target_auc == 0.0 || task == data::Task::kBinary, ErrorKind::kConfig,
             "--target-auc {}: the dataset's task is {}, which has no AUC", options.target_auc,
             data::TaskName(task));
  const std::unique_ptr<models::Model> model = BuildModel(options, schema.features, ctx.seed);
  model->module()->train();
  auto dense = DenseOptimizer::Create(optimizer_options, model->DenseParameters());
  auto sparse = SparseOptimizer::Create(optimizer_options, model->SparseGroups());
  loader::DataLoader train(options.data_dir, "train", loader_options, 0, 1, ctx.seed);
  fs::create_directories(options.out_dir);

  const bool native_bf16 = models::CpuHasNativeBf16();
  const bool bf16 = models::UseBf16(options.precision);
  if (bf16 && !native_bf16)
    spdlog::warn("train: this CPU has no native bf16 (AVX512-BF16 or AMX); bf16 will be slow");
  const std::string precision = bf16 ? "bf16" : "fp32";
  const nlohmann::json dependencies =
      RunDependencies(options.data_dir, options.model, model->Architecture(), loader_options,
                      optimizer_options, precision, ctx.seed);

  const int64_t steps_per_epoch = train.batches();
  // The learning-rate plan spans the epochs; --max-steps only stops early, so a run cut short
  // by it (and resumed) follows the same plan as an uninterrupted one.
  const int64_t planned_steps = options.epochs * steps_per_epoch;
  const int64_t total_steps =
      options.max_steps > 0 ? std::min(planned_steps, options.max_steps) : planned_steps;
  const ScheduleOptions schedule{options.warmup_steps, options.decay, planned_steps, 0.0};

  Position at;
  if (!(options.resume && HasCheckpoint(options.out_dir)))
    fs::remove(options.out_dir + "/curve.jsonl");  // a fresh run's curve starts empty
  if (options.resume && HasCheckpoint(options.out_dir)) {
    at = LoadCheckpoint(*model, *dense, *sparse, dependencies, options.out_dir);
    spdlog::info("train: resuming at step {} (epoch {}, batch {})", at.step, at.epoch,
                 at.next_batch);
  }

  TrainResult result;
  result.task = task;
  RunRecord record;
  const std::string best_path = options.out_dir + "/best.pt";
  const auto run_start = Clock::now();
  std::string last_valid;  // shown in the progress line
  bool reached = false;
  // The weights evaluated last, by step: a run that ends on an evaluation step (or right after
  // the epoch-end evaluation) reuses it instead of scoring the same weights again.
  std::optional<SplitMetrics> last_evaluation;
  int64_t last_evaluation_step = -1;
  auto evaluate = [&](const std::string& split) {
    const std::unique_ptr<models::InferenceEngine> engine =
        model->MakeInferenceEngine(/*bf16=*/false);  // the path `aiok predict` takes, in fp32
    return Evaluate(*engine, task, options.data_dir, split, options.eval_batch_size);
  };
  auto evaluate_valid = [&] {
    if (last_evaluation && last_evaluation_step == at.step)
      return *last_evaluation;
    const SplitMetrics valid = evaluate("valid");
    last_evaluation = valid;
    last_evaluation_step = at.step;
    nlohmann::json point = CurvePoint(at.step, at.train_seconds, valid);
    record.curve.push_back(point);
    // The fraction of the planned run lets a watcher compare runs of other lengths.
    point["progress"] = total_steps > 0 ? static_cast<double>(at.step) / total_steps : 1.0;
    AppendCurvePoint(options.out_dir, point);
    last_valid = ", valid " + valid.Summary();
    spdlog::debug("train: step {} valid {}", at.step, valid.Summary());
    if (valid.score() > at.best_score) {
      at.best_score = valid.score();
      at.best_step = at.step;
      at.evaluations_since_best = 0;
      if (options.keep_best)
        models::SaveWeights(*model, best_path);
    } else {
      ++at.evaluations_since_best;
    }
    if (options.target_auc > 0 && !reached && valid.auc >= options.target_auc) {
      reached = true;
      result.seconds_to_target = at.train_seconds;
      result.wall_seconds_to_target = Seconds(run_start);
    }
    return valid;
  };

  // With a target, evaluate often enough to see it reached.
  const int64_t eval_every =
      options.eval_every > 0 ? options.eval_every : (options.target_auc > 0 ? 100 : 0);
  TrainStep step(*model, *dense, *sparse, bf16);
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
      step.SetLearningRates(optimizer_options.lr * factor, optimizer_options.embedding_lr * factor);
      const double loss = step.ComputeGradients(*batch);
      // Data-parallel ranks will exchange the gradients here (dense all-reduce, sparse
      // (ids, rows) all-gather), before any update.
      step.ApplyGradients();
      loss_average = std::isnan(loss_average) ? loss : 0.98 * loss_average + 0.02 * loss;
      at.train_seconds += Seconds(step_start);
      ++at.step;
      at.samples += batch->rows;
      at.epoch = epoch;
      at.next_batch = batch->index + 1;
      progress.SetDetail(progress_detail());
      progress.Advance(1);
      if (eval_every > 0 && at.step % eval_every == 0)
        evaluate_valid();
      if (options.checkpoint_every > 0 && at.step % options.checkpoint_every == 0)
        SaveCheckpoint(*model, *dense, *sparse, at, dependencies, options.out_dir);
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
  SaveCheckpoint(*model, *dense, *sparse, at, dependencies, options.out_dir);
  // The run's last weights are scored before a better earlier step may replace them.
  result.valid = evaluate_valid();
  if (options.keep_best && at.best_step >= 0 && at.best_step != at.step && fs::exists(best_path)) {
    spdlog::info("train: {} peaked at step {} ({:.4f}; last {:.4f}); keeping those weights",
                 ScoreName(task), at.best_step, std::fabs(at.best_score),
                 std::fabs(result.valid.score()));
    models::LoadWeights(*model, best_path);
    result.restored_best = true;
    result.valid = evaluate("valid");
  }
  result.best_step = at.best_step;
  models::SaveWeights(*model, options.out_dir + "/model.pt");

  result.steps = at.step;
  result.steps_this_run = at.step - first_step;
  result.train_seconds = at.train_seconds;
  result.samples_per_second =
      at.train_seconds > 0 ? static_cast<double>(at.samples) / at.train_seconds : 0.0;
  result.test = evaluate("test");
  record.model = options.model;
  record.architecture = model->Architecture();
  record.config = OptionsToJson(options);
  record.config.update(ResolvedModelOptions(options, options.model));
  record.config.update(OptionsToJson(loader_options));
  record.config.update(OptionsToJson(optimizer_options));
  record.seed = ctx.seed;
  record.threads = ctx.threads;
  record.precision = precision;
  record.cpu_native_bf16 = native_bf16;
  record.samples = at.samples;
  record.final_loss = loss_average;
  result.metrics = MetricsJson(result, record);
  WriteMetrics(options.out_dir, result.metrics);
  return result;
}

}  // namespace aiok::train
