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
#include "aiok/train/communicator.h"
#include "aiok/train/distributed.h"
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
    AIOK_CHECK(positives > 0 && positives<rows, ErrorKind::kInvalidInput,
                                          "{}: every one of the {} rows of the {} split has label "
                                          "{}: a binary task needs "
                                          "both labels there (use another --split, or more data)",
                                          dir, rows, split, positives> 0
                   ? 1
                   : 0);
  }
}
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// One rank's part of a training run (the only part with one process). Setup() reads and
// checks everything before any rank trains; Run() trains, evaluates and writes the outputs.
// Rank 0 evaluates and writes; every decision that follows from an evaluation (stop, best
// step) is shared with the other ranks so that all take the same steps.
class Trainer {
 public:
  Trainer(const TrainOptions& options, const loader::LoaderOptions& loader_options,
          const OptimizerOptions& optimizer_options, const RunContext& ctx, Communicator& ranks)
      : options_(options),
        loader_options_(loader_options),
        optimizer_options_(optimizer_options),
        ctx_(ctx),
        ranks_(ranks) {}

  void Setup();
  TrainResult Run();
  int64_t start_step() const { return at_.step; }

 private:
  bool root() const { return ranks_.rank() == 0; }
  SplitMetrics Evaluate(const std::string& split);
  // Rank 0: scores the valid split (or reuses the score of the same step), records the curve
  // point, the best step and the target.
  SplitMetrics EvaluateValid();
  // Every rank: rank 0 evaluates, the others learn what it decided.
  void ValidateTogether();
  // Every rank: rank 0 writes OUT/checkpoint, the others wait for it.
  void CheckpointTogether();
  bool PatienceExhausted() const {
    return options_.patience > 0 && at_.evaluations_since_best >= options_.patience;
  }
  void Finish(double loss_average, const ExchangeStats& exchange);

  const TrainOptions& options_;
  const loader::LoaderOptions& loader_options_;
  const OptimizerOptions& optimizer_options_;
  const RunContext& ctx_;
  Communicator& ranks_;

  data::Task task_ = data::Task::kBinary;
  std::unique_ptr<models::Model> model_;
  std::unique_ptr<DenseOptimizer> dense_;
  std::unique_ptr<SparseOptimizer> sparse_;
  std::unique_ptr<loader::DataLoader> train_;
  bool native_bf16_ = false;
  bool bf16_ = false;
  std::string precision_;
  nlohmann::json dependencies_;
  int64_t total_steps_ = 0;
  ScheduleOptions schedule_;
  int64_t eval_every_ = 0;
  std::string best_path_;

  Position at_;
  TrainResult result_;
  RunRecord record_;
  Clock::time_point run_start_;
  std::string last_valid_;  // shown in the progress line
  bool reached_ = false;
  // The weights evaluated last, by step: a run that ends on an evaluation step (or right after
  // the epoch-end evaluation) reuses it instead of scoring the same weights again.
  std::optional<SplitMetrics> last_evaluation_;
  int64_t last_evaluation_step_ = -1;
};

void Trainer::Setup() {
  ValidateOptions(options_, "train");
  ValidateOptions(loader_options_, "train");
  ValidateOptions(optimizer_options_, "train");
  AIOK_CHECK(loader_options_.batch_size % ranks_.size() == 0, ErrorKind::kUsage,
             "train: --batch-size {} is the global batch, shared evenly by the {} ranks; it "
             "must be a multiple of {}",
             loader_options_.batch_size, ranks_.size(), ranks_.size());
  UseTorchThreads();
  ApplyThreadSettings(ctx_.threads);
  const data::DatasetSchema schema = data::ReadDatasetSchema(options_.data_dir);
  task_ = schema.features.task;
  CheckSplitsCanTrain(schema, options_.data_dir);
  AIOK_CHECK(options_.target_auc == 0.0 || task_ == data::Task::kBinary, ErrorKind::kConfig,
             "--target-auc {}: the dataset's task is {}, which has no AUC", options_.target_auc,
             data::TaskName(task_));
  model_ = BuildModel(options_, schema.features, ctx_.seed);
  model_->module()->train();
  dense_ = DenseOptimizer::Create(optimizer_options_, model_->DenseParameters());
  sparse_ = SparseOptimizer::Create(optimizer_options_, model_->SparseGroups());
  train_ = std::make_unique<loader::DataLoader>(options_.data_dir, "train", loader_options_,
                                                ranks_.rank(), ranks_.size(), ctx_.seed);
  if (root())
    fs::create_directories(options_.out_dir);

  native_bf16_ = models::CpuHasNativeBf16();
  bf16_ = models::UseBf16(options_.precision);
  if (bf16_ && !native_bf16_)
    spdlog::warn("train: this CPU has no native bf16 (AVX512-BF16 or AMX); bf16 will be slow");
  precision_ = bf16_ ? "bf16" : "fp32";
  // The global batch size is a dependency, the number of ranks is not: a checkpoint resumes
  // with any number of ranks (its position counts global batches).
  dependencies_ = RunDependencies(options_.data_dir, options_.model, model_->Architecture(),
                                  loader_options_, optimizer_options_, precision_, ctx_.seed);

  const int64_t steps_per_epoch = train_->batches();
  // The learning-rate plan spans the epochs; --max-steps only stops early, so a run cut short
  // by it (and resumed) follows the same plan as an uninterrupted one.
  const int64_t planned_steps = options_.epochs * steps_per_epoch;
  total_steps_ =
      options_.max_steps > 0 ? std::min(planned_steps, options_.max_steps) : planned_steps;
  schedule_ = ScheduleOptions{options_.warmup_steps, options_.decay, planned_steps, 0.0};
  // With a target, evaluate often enough to see it reached.
  eval_every_ = options_.eval_every > 0 ? options_.eval_every : (options_.target_auc > 0 ? 100 : 0);
  best_path_ = options_.out_dir + "/best.pt";

  const bool resume = options_.resume && HasCheckpoint(options_.out_dir);
  if (!resume && root())
    fs::remove(options_.out_dir + "/curve.jsonl");  // a fresh run's curve starts empty
  if (resume) {
    at_ = LoadCheckpoint(*model_, *dense_, *sparse_, dependencies_, options_.out_dir);
    spdlog::info("train: resuming at step {} (epoch {}, batch {})", at_.step, at_.epoch,
                 at_.next_batch);
  }
}

SplitMetrics Trainer::Evaluate(const std::string& split) {
  const std::unique_ptr<models::InferenceEngine> engine =
      model_->MakeInferenceEngine(/*bf16=*/false);  // the path `aiok predict` takes, in fp32
  return train::Evaluate(*engine, task_, options_.data_dir, split, options_.eval_batch_size);
}

SplitMetrics Trainer::EvaluateValid() {
  if (last_evaluation_ && last_evaluation_step_ == at_.step)
    return *last_evaluation_;
  const SplitMetrics valid = Evaluate("valid");
  last_evaluation_ = valid;
  last_evaluation_step_ = at_.step;
  nlohmann::json point = CurvePoint(at_.step, at_.train_seconds, valid);
  record_.curve.push_back(point);
  // The fraction of the planned run lets a watcher compare runs of other lengths.
  point["progress"] = total_steps_ > 0 ? static_cast<double>(at_.step) / total_steps_ : 1.0;
  AppendCurvePoint(options_.out_dir, point);
  last_valid_ = ", valid " + valid.Summary();
  spdlog::debug("train: step {} valid {}", at_.step, valid.Summary());
  if (valid.score() > at_.best_score) {
    at_.best_score = valid.score();
    at_.best_step = at_.step;
    at_.evaluations_since_best = 0;
    if (options_.keep_best)
      models::SaveWeights(*model_, best_path_);
  } else {
    ++at_.evaluations_since_best;
  }
  if (options_.target_auc > 0 && !reached_ && valid.auc >= options_.target_auc) {
    reached_ = true;
    result_.seconds_to_target = at_.train_seconds;
    result_.wall_seconds_to_target = Seconds(run_start_);
  }
  return valid;
}

void Trainer::ValidateTogether() {
  if (root())
    EvaluateValid();
  if (ranks_.size() == 1)
    return;
  double decided[4] = {at_.best_score, static_cast<double>(at_.best_step),
                       static_cast<double>(at_.evaluations_since_best), reached_ ? 1.0 : 0.0};
  ranks_.Broadcast(decided, sizeof(decided), 0);
  at_.best_score = decided[0];
  at_.best_step = static_cast<int64_t>(decided[1]);
  at_.evaluations_since_best = static_cast<int64_t>(decided[2]);
  reached_ = decided[3] != 0.0;
}

void Trainer::CheckpointTogether() {
  if (root())
    SaveCheckpoint(*model_, *dense_, *sparse_, at_, dependencies_, options_.out_dir);
  ranks_.Barrier();
}

TrainResult Trainer::Run() {
  // Every rank starts from rank 0's weights (the same seed gives the same ones; this makes
  // sure of it). After a resume every rank has read the same checkpoint.
  BroadcastWeights(ranks_, *model_);
  result_.task = task_;
  run_start_ = Clock::now();
  TrainStep step(*model_, *dense_, *sparse_, bf16_);
  GradientExchange exchange(ranks_, *model_);
  Progress progress("train", total_steps_, "steps");
  progress.Advance(at_.step);
  const int64_t first_step = at_.step;
  double loss_average = NAN;
  auto progress_detail = [&] {
    return fmt::format(
        "{} samples/s, loss {:.4f}{}",
        HumanCount(static_cast<double>(at_.samples) / std::max(at_.train_seconds, 1e-9)),
        loss_average, last_valid_);
  };
  bool done = at_.step >= total_steps_;
  for (int64_t epoch = at_.epoch; epoch < options_.epochs && !done; ++epoch) {
    train_->StartEpoch(epoch, epoch == at_.epoch ? at_.next_batch : 0);
    for (;;) {
      // A step's time includes waiting for its batch; evaluation and checkpoints are not.
      const auto step_start = Clock::now();
      const std::optional<data::FeatureBatch> batch = train_->Next();
      if (!batch)
        break;
      ctx_.cancel->ThrowIfCancelled();
      const double factor = LearningRateFactor(schedule_, at_.step);
      step.SetLearningRates(optimizer_options_.lr * factor,
                            optimizer_options_.embedding_lr * factor);
      const int64_t global_rows = train_->GlobalBatchRows(batch->index);
      double loss = 0.0;
      if (batch->rows > 0) {
        loss = step.ComputeGradients(*batch);
      } else {
        // This rank's share of the epoch's last, short batch is empty: it adds nothing.
        dense_->ZeroGrad();
        sparse_->ZeroGrad();
      }
      loss = exchange.Exchange(batch->rows, global_rows, loss);
      step.ApplyGradients();
      loss_average = std::isnan(loss_average) ? loss : 0.98 * loss_average + 0.02 * loss;
      at_.train_seconds += Seconds(step_start);
      ++at_.step;
      at_.samples += global_rows;
      at_.epoch = epoch;
      at_.next_batch = batch->index + 1;
      progress.SetDetail(progress_detail());
      progress.Advance(1);
      if (eval_every_ > 0 && at_.step % eval_every_ == 0)
        ValidateTogether();
      if (options_.checkpoint_every > 0 && at_.step % options_.checkpoint_every == 0)
        CheckpointTogether();
      if (at_.step >= total_steps_ || reached_ || PatienceExhausted()) {
        result_.stopped_early = !reached_ && at_.step < total_steps_;
        done = true;
        break;
      }
    }
    if (!done) {
      at_.epoch = epoch + 1;
      at_.next_batch = 0;
    }
    if (eval_every_ == 0 || done)
      ValidateTogether();
    if (reached_)
      done = true;
    if (PatienceExhausted()) {
      result_.stopped_early = true;
      done = true;
    }
  }
  progress.SetDetail(progress_detail());
  progress.Finish();
  CheckReplicasAgree(ranks_, *model_);
  result_.steps = at_.step;
  result_.steps_this_run = at_.step - first_step;
  result_.train_seconds = at_.train_seconds;
  result_.samples_per_second =
      at_.train_seconds > 0 ? static_cast<double>(at_.samples) / at_.train_seconds : 0.0;
  if (root())
    Finish(loss_average, exchange.stats());
  ranks_.Barrier();  // the other ranks end once rank 0 has written everything
  return result_;
}

void Trainer::Finish(double loss_average, const ExchangeStats& exchange) {
  SaveCheckpoint(*model_, *dense_, *sparse_, at_, dependencies_, options_.out_dir);
  // The run's last weights are scored before a better earlier step may replace them.
  result_.valid = EvaluateValid();
  if (options_.keep_best && at_.best_step >= 0 && at_.best_step != at_.step &&
      fs::exists(best_path_)) {
    spdlog::info("train: {} peaked at step {} ({:.4f}; last {:.4f}); keeping those weights",
                 ScoreName(task_), at_.best_step, std::fabs(at_.best_score),
                 std::fabs(result_.valid.score()));
    models::LoadWeights(*model_, best_path_);
    result_.restored_best = true;
    result_.valid = Evaluate("valid");
  }
  result_.best_step = at_.best_step;
  models::SaveWeights(*model_, options_.out_dir + "/model.pt");
  result_.test = Evaluate("test");
  record_.model = options_.model;
  record_.architecture = model_->Architecture();
  record_.config = OptionsToJson(options_);
  record_.config.update(ResolvedModelOptions(options_, options_.model));
  record_.config.update(OptionsToJson(loader_options_));
  record_.config.update(OptionsToJson(optimizer_options_));
  record_.seed = ctx_.seed;
  record_.threads = ctx_.threads;
  record_.precision = precision_;
  record_.cpu_native_bf16 = native_bf16_;
  record_.samples = at_.samples;
  record_.final_loss = loss_average;
  result_.metrics = MetricsJson(result_, record_);
  // What data parallelism cost this run (this rank's view; zeros with one process).
  nlohmann::json& train = result_.metrics["train"];
  train["ranks"] = ranks_.size();
  const double steps = static_cast<double>(std::max<int64_t>(exchange.steps, 1));
  train["communication"] = {
      {"seconds_per_step", exchange.seconds / steps},
      {"bytes_per_step", static_cast<double>(exchange.dense_bytes + exchange.sparse_bytes) / steps},
      {"dense_bytes_per_step", static_cast<double>(exchange.dense_bytes) / steps},
      {"sparse_bytes_per_step", static_cast<double>(exchange.sparse_bytes) / steps},
      {"dense_allreduce_seconds_per_step", exchange.dense_seconds / steps},
      {"sparse_allgather_seconds_per_step", exchange.sparse_seconds / steps},
      {"seconds", exchange.seconds}};
  WriteMetrics(options_.out_dir, result_.metrics);
}

}  // namespace

TrainResult Train(const TrainOptions& options, const loader::LoaderOptions& loader_options,
                  const OptimizerOptions& optimizer_options, const RunContext& ctx) {
  const std::unique_ptr<Communicator> one = SingleProcess();
  return Train(options, loader_options, optimizer_options, ctx, *one);
}

TrainResult Train(const TrainOptions& options, const loader::LoaderOptions& loader_options,
                  const OptimizerOptions& optimizer_options, const RunContext& ctx,
                  Communicator& ranks) {
  Trainer trainer(options, loader_options, optimizer_options, ctx, ranks);
  std::exception_ptr error;
  try {
    trainer.Setup();
  } catch (...) {
    error = std::current_exception();
  }
  // From here on the ranks move together: all start, or all stop with one message.
  AgreeToStart(ranks, error, error ? 0 : trainer.start_step());
  try {
    return trainer.Run();
  } catch (...) {
    StopAllRanks(ranks, std::current_exception());
  }
}

}  // namespace aiok::train
