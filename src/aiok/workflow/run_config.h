// The configuration of `aiok run`: everything that decides its outputs, in one document that
// is saved as DIR/run.yaml and can be passed back with --config —
//
//   data:
//     input: ""            # raw Criteo TSV or Parquet; empty: built-in synthetic data
//     generator: criteo    # which: criteo, or sequences for DIEN ("": by the model)
//     synthetic: {rows: 4000000, card-scale: 0.01, pos-rate: 0.25}   # its datagen options
//   etl: {preset: "", freq_threshold: 3, on_error: fail, split: kaggle, label: "", schema: "",
//         pipeline: "", task: auto, positive: ""}     # preset "": criteo on Criteo's layout
//   train: {model: dlrm, preset: dlrm-kaggle, epochs: 1, batch-size: 2048, lr: 0.02, ...}
//   tune: {trials: 0, objectives: "auc:max", budget_minutes: 0, ...}   # 0 trials: no tuning
//   ranks: 1               # >1: the train stage runs as mpirun -np RANKS aiok train
//   seed: 42
//
// `train` takes every `aiok train` flag by name; the tuning stage (run_tuning.h) searches the
// model's built-in space around it and the final training takes the chosen trial's values.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "aiok/data/generator.h"
#include "aiok/loader/data_loader.h"
#include "aiok/train/optimizer.h"
#include "aiok/train/trainer.h"

namespace aiok::workflow {

/// Rows of the built-in synthetic data: large enough for a model well above the 0.78 test
/// AUC yardstick, small enough that the whole run takes a few minutes on 2 cores.
constexpr int64_t kDefaultSyntheticRows = 4000000;

/// The most ranks `aiok run --ranks` starts (all on this machine).
constexpr int64_t kMaxRanks = 256;

/// The tuning stage of a run (`aiok run --tune TRIALS`, or run.yaml's `tune:` section).
struct RunTuneOptions {
  int64_t trials = 0;  ///< 0: no tuning stage
  std::string objectives = "auc:max";
  double budget_minutes = 0.0;  ///< 0: no limit
  int64_t workers = 1;
  std::string sampler = "auto";
  std::string pruner = "auto";
  std::string space;             ///< YAML narrowing or widening the built-in space ("": none)
  double auc_tolerance = 0.001;  ///< two objectives: AUC given up for speed, at most
  int64_t reports = 4;           ///< validation points per trial, for pruning

  template <typename V>
  void Visit(V& v) {
    v.Int("trials", &trials, 0, 100000, "trials of the tuning stage (0: no tuning stage)");
    v.Text("objectives", &objectives, {"auc:max", "auc:max,train_seconds:min"},
           "what the trials optimize (validation AUC; with train_seconds, the fastest trial "
           "within auc_tolerance of the best AUC is chosen)");
    v.Real("budget_minutes", &budget_minutes, 0.0, 1e7,
           "wall time of the tuning stage; the best trial so far is taken (0: no limit)");
    v.Int("workers", &workers, 1, 256, "trials at once (the run's threads are shared)");
    v.Text("sampler", &sampler, {}, "aiok tune --sampler");
    v.Text("pruner", &pruner, {}, "aiok tune --pruner");
    v.Text("space", &space, {},
           "search space YAML over the model's built-in one (aiok tune --space)");
    v.Real("auc_tolerance", &auc_tolerance, 0.0, 1.0,
           "two objectives: the fastest trial whose AUC is at most this far below the best");
    v.Int("reports", &reports, 0, 1000, "validation points per trial, for pruning");
  }
};

struct RunConfig {
  std::string input;  ///< raw data; empty: synthetic
  /// The synthetic data's generator: "criteo", "sequences", "tabular"; "": by the model
  /// (sequences for DIEN, which needs behaviour histories; criteo for the others).
  std::string generator;
  /// The generator's options as given (the rest at its defaults). "rows" is accepted by every
  /// generator: for sequences it sets the users (rows / events-per-user).
  nlohmann::json synthetic = nlohmann::json::object();
  std::string etl_preset;  ///< "": criteo on Criteo's layout, the default chains otherwise
  int64_t freq_threshold = 3;
  std::string label;     ///< label of an inferred schema ("": by its name)
  std::string schema;    ///< schema file ("": inferred)
  std::string pipeline;  ///< pipeline file ("": the preset or the default chains)
  std::string task = "auto";
  std::string positive;
  /// Whether the batch size was left at its default, so the run may lower it for small data.
  bool batch_size_given = false;
  std::string on_error = "fail";
  std::string split = "kaggle";
  train::TrainOptions train;
  loader::LoaderOptions loader;
  train::OptimizerOptions optimizer;
  RunTuneOptions tune;
  /// Data-parallel ranks of the train stage on this machine: 1 trains in this process, more
  /// run `mpirun -np ranks aiok train` (workflow/ranked_training.h). The global batch is the
  /// same for any count, so it is not part of the training's stage key. ETL and tuning trials
  /// stay one process each.
  int64_t ranks = 1;
  uint64_t seed = 42;

  RunConfig();
  /// The document above, with every default filled in.
  nlohmann::json ToJson() const;
  /// Reads a (possibly partial) document over the defaults; errors (kConfig) name `source`
  /// and the key.
  static RunConfig FromJson(const nlohmann::json& json, const std::string& source);
  /// Checks every value; throws Error(kConfig) naming the key.
  void Validate() const;
  /// The batch the run trains with on `train_rows` rows: the given one, or the default halved
  /// (down to 256) until an epoch has ~300 steps (CTR models peak in their first epoch, and a
  /// large batch makes too few updates on small data).
  int64_t TrainBatchSize(int64_t train_rows) const;
  /// This configuration with `options` (aiok train option values by name, e.g. a tuning
  /// trial's) applied to its train, loader, optimizer and model options. Errors (kConfig)
  /// name `source` and the key.
  RunConfig WithTrainOptions(const nlohmann::json& options, const std::string& source) const;

  /// The generator synthetic data comes from (`generator`, or the model's).
  std::string SyntheticGenerator() const;
  /// Its options: the defaults (criteo: kDefaultSyntheticRows rows) with `synthetic` applied.
  nlohmann::json ResolvedSynthetic() const;
  /// The generator with ResolvedSynthetic() set and checked; errors (kConfig) name the key.
  std::unique_ptr<data::Generator> MakeSyntheticGenerator() const;
};

}  // namespace aiok::workflow
