// The training checkpoint, OUT/checkpoint/:
//
//   model.pt        the model's parameters and buffers (libtorch archive)
//   optimizer.pt    the dense optimizer's state and the sparse optimizer's (embedding rows)
//   position.json   format, where the run stands (Position), and what it depends on
//
// "What it depends on" is the dataset (a hash of its schema.json, which names the source file
// with its size and mtime, the fitted state and the row counts) and every option that changes
// which steps the run takes: model, architecture, the loader's order (batch size, shuffle),
// the optimizers, precision and seed. A resume with any of them changed would not continue
// the same run, so it is refused naming each difference. Options that only stop or extend a
// run (--max-steps, --epochs, evaluation and checkpoint intervals) may change, and so may the
// number of data-parallel ranks: the batch size is the global one and the position counts
// global batches, which N ranks take together as one process would.
//
// Torch-free header: the model and optimizers are passed by reference.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "aiok/loader/data_loader.h"
#include "aiok/models/model.h"
#include "aiok/train/optimizer_options.h"

namespace aiok::train {

class DenseOptimizer;
class SparseOptimizer;

/// Where a run stands: enough to continue it exactly.
struct Position {
  int64_t epoch = 0;
  int64_t next_batch = 0;
  int64_t step = 0;
  int64_t samples = 0;
  double train_seconds = 0.0;
  double best_score = -1e300;  ///< best valid SplitMetrics::score() so far; weights in best.pt
  int64_t best_step = -1;      ///< -1: none evaluated
  int64_t evaluations_since_best = 0;
};

/// What the trajectory of a run depends on (see above), as JSON keyed by option name.
nlohmann::json RunDependencies(const std::string& data_dir, const std::string& model,
                               const nlohmann::json& architecture,
                               const loader::LoaderOptions& loader,
                               const OptimizerOptions& optimizer, const std::string& precision,
                               uint64_t seed);

/// Whether `out_dir` holds a checkpoint.
bool HasCheckpoint(const std::string& out_dir);

/// Writes OUT/checkpoint, replacing the previous one only once the new one is complete.
void SaveCheckpoint(models::Model& model, const DenseOptimizer& dense,
                    const SparseOptimizer& sparse, const Position& at,
                    const nlohmann::json& dependencies, const std::string& out_dir);

/// Loads OUT/checkpoint into the model and optimizers. Throws Error(kConfig) naming every
/// dependency that differs from `dependencies` before loading anything.
Position LoadCheckpoint(models::Model& model, DenseOptimizer& dense, SparseOptimizer& sparse,
                        const nlohmann::json& dependencies, const std::string& out_dir);

}  // namespace aiok::train
