// Training a model on a dataset directory. The trainer does not know the model: it builds the
// one named by --model through the registry (model_builder.h), takes the loss and metrics from
// the dataset's task (task.h, loss.h), steps through gradients then updates (step.h),
// evaluates through the model's inference engine (evaluation.h), checkpoints (checkpoint.h)
// and writes metrics.json (metrics_report.h).
// Torch-free header: the CLI declares the options without loading libtorch.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "aiok/core/context.h"
#include "aiok/core/options.h"
#include "aiok/loader/data_loader.h"
#include "aiok/models/model.h"
#include "aiok/train/optimizer_options.h"
#include "aiok/train/task.h"

namespace aiok::train {

class Communicator;

struct TrainOptions {
  std::string data_dir;
  std::string out_dir;
  std::string model = "dlrm";
  /// The model's own options by key (e.g. DLRM's "preset", "emb-dim"; see --list-models);
  /// keys not given take the model's defaults.
  nlohmann::json model_options = nlohmann::json::object();
  int64_t epochs = 1;
  int64_t max_steps = 0;  ///< stop after this many steps (0: no limit)
  int64_t warmup_steps = 50;
  std::string decay = "linear";
  double target_auc = 0.0;       ///< stop when valid AUC reaches it (0: off; binary tasks)
  int64_t eval_every = 0;        ///< evaluate on valid every K steps (0: each epoch end, or
                                 ///< every 100 steps when target_auc is set)
  int64_t checkpoint_every = 0;  ///< checkpoint every K steps (0: only at the end)
  bool resume = false;           ///< continue from OUT/checkpoint if present
  bool keep_best = true;         ///< end with the weights of the best valid evaluation
  int64_t patience = 0;          ///< stop after K evaluations without a better one (0: off)
  int64_t eval_batch_size = 16384;
  std::string precision = "auto";
  double rank_timeout = 600.0;   ///< seconds a rank waits in one exchange (0: forever)

  template <typename V>
  void Visit(V& v) {
    v.Text("precision", &precision, {"auto", "fp32", "bf16"},
           "bf16: MLPs and interaction under bf16 autocast (fp32 master weights, fp32 "
           "embeddings); auto: bf16 where it is faster (AMX, or AVX512-BF16 on AMD), else fp32");
    v.Text("model", &model, models::BuiltinModels().Names(),
           "model family (its options: aiok train --list-models)");
    v.Int("epochs", &epochs, 1, 1000, "passes over the train split");
    v.Int("max-steps", &max_steps, 0, kNoIntLimit, "stop after this many steps (0: no limit)");
    v.Int("warmup-steps", &warmup_steps, 0, kNoIntLimit, "linear learning-rate warmup");
    v.Text("decay", &decay, {"none", "linear", "cosine"}, "learning-rate decay after warmup");
    v.Real("target-auc", &target_auc, 0.0, 1.0,
           "stop when valid AUC reaches it (0: off; binary tasks)");
    v.Int("eval-every", &eval_every, 0, kNoIntLimit,
          "evaluate every K steps (0: each epoch, or every 100 with --target-auc)");
    v.Int("checkpoint-every", &checkpoint_every, 0, kNoIntLimit,
          "checkpoint every K steps (0: at the end)");
    v.Flag("resume", &resume, "continue from OUT/checkpoint");
    v.Flag("keep-best", &keep_best,
           "end with the weights of the best valid evaluation (AUC, or RMSE for regression; "
           "multi-epoch runs of CTR models overfit after the first epoch)");
    v.Int("patience", &patience, 0, kNoIntLimit,
          "stop after K evaluations without a better valid metric (0: never)");
    v.Int("eval-batch-size", &eval_batch_size, 1, int64_t{1} << 24, "rows per evaluation batch");
    v.Real("rank-timeout", &rank_timeout, 0.0, 1e7,
           "under mpirun: seconds a rank waits in one exchange with the others before it "
           "stops the whole run, so that a rank that is stopped, stuck or unreachable cannot "
           "hang the job (the other ranks' waits for rank 0's evaluations and checkpoints are "
           "not timed; 0: wait forever)");
  }
};

/// `options.model`'s options with every key filled in (defaults for keys model_options does
/// not give), checked against their declared bounds. Errors (kConfig) name `owner` and the key.
nlohmann::json ResolvedModelOptions(const TrainOptions& options, const std::string& owner);

struct TrainResult {
  data::Task task = data::Task::kBinary;
  int64_t steps = 0;           ///< where the run ended (counting steps before a resume)
  int64_t steps_this_run = 0;  ///< steps taken by this call
  double train_seconds = 0.0;
  double samples_per_second = 0.0;
  double seconds_to_target = -1.0;       ///< training-step time; -1: not set or not reached
  double wall_seconds_to_target = -1.0;  ///< including evaluations
  int64_t best_step = -1;                ///< step of the best evaluation (-1: none evaluated)
  bool restored_best = false;            ///< the final weights are the best step's
  bool stopped_early = false;            ///< by --patience
  SplitMetrics valid;
  SplitMetrics test;
  nlohmann::json metrics;  ///< what OUT/metrics.json holds
};

/// Trains with `options`, `loader` (batch size, shuffle, ...) and `optimizer`, writing
/// OUT/metrics.json, OUT/checkpoint (model, optimizers, position, what the run depends on) and
/// OUT/model.pt — the final weights, or with keep_best those of the best valid evaluation
/// (kept in OUT/best.pt meanwhile). A resume whose dataset or trajectory-changing options
/// differ from the checkpoint's is refused (Error kConfig naming each difference).
TrainResult Train(const TrainOptions& options, const loader::LoaderOptions& loader,
                  const OptimizerOptions& optimizer, const RunContext& ctx);

/// Synchronous data-parallel training: every rank of `ranks` calls this with the same
/// arguments. loader.batch_size is the global batch (it must divide by the number of ranks:
/// a kUsage error before any work otherwise); each rank trains on its share of every global
/// batch and the gradients are exchanged before every update (distributed.h), so N ranks take
/// the steps one process would, up to the order of float sums. Rank 0 alone evaluates and
/// writes into OUT (metrics, checkpoints, weights, curve); the others only read it (a resume
/// needs OUT on a file system every rank shares) and return a result without metrics.
/// Checkpoints do not depend on the number of ranks: a run may resume with another one.
/// Failures: an error before training is thrown by rank 0 (naming the rank that failed) while
/// the others throw RanksStopped; an error while training ends every rank (StopAllRanks).
/// With a single-process communicator this is Train() above.
TrainResult Train(const TrainOptions& options, const loader::LoaderOptions& loader,
                  const OptimizerOptions& optimizer, const RunContext& ctx, Communicator& ranks);

}  // namespace aiok::train
