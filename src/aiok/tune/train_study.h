// Tuning `aiok train`: what a trial of a model family may set (its declared options), how a
// configuration becomes `aiok train` flags, and the launcher that starts each trial as an
// `aiok train` process on a dataset. Shared by `aiok tune` and `aiok run --tune`, so both
// run the same trials. A separate library (aiok_tune_train) from the torch-free advisor: it
// reads the train, loader, optimizer and model declarations.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/tune/declared_options.h"
#include "aiok/tune/study_store.h"
#include "aiok/tune/tuner.h"

namespace aiok::tune {

/// "model:" + the family: the target of a study of `aiok train --model FAMILY`.
inline constexpr const char* kModelTargetPrefix = "model:";

/// Every option an `aiok train --model MODEL` trial may set (train, loader, optimizer, model
/// options), without those a trial must not choose (model, resume).
std::vector<DeclaredOption> TrainDeclarations(const std::string& model);

/// `aiok train` flags for option values: --key value, and --flag / --no-flag for on/off keys.
std::vector<std::string> TrainFlags(const nlohmann::json& options);

/// The `aiok train` command line (executable first) that trains `model` on `data_dir` into
/// `out_dir` with `options` as flags (TrainFlags); options not given take aiok train's defaults.
std::vector<std::string> TrainCommandLine(const std::string& executable, const std::string& model,
                                          const std::string& data_dir, const std::string& out_dir,
                                          uint64_t seed, int threads,
                                          const nlohmann::json& options);

/// The entries of `options` whose value differs from the declared default of `declared`: what
/// a command line must carry. Throws Error(kInternal) for a key that is not declared.
nlohmann::json ChangedOptions(const std::vector<DeclaredOption>& declared,
                              const nlohmann::json& options);

/// `s` quoted for a POSIX shell when it needs quoting.
std::string ShellQuote(const std::string& s);

/// The running executable (/proc/self/exe): the aiok binary, also inside the torch plugin.
std::string AiokExecutable();

/// Rows of a dataset's train split (its schema.json). Errors (kInvalidInput) name the file.
int64_t DatasetTrainRows(const std::string& data_dir);

/// How the trials of one study of `aiok train` run.
struct TrainTrials {
  std::string executable;                           ///< the aiok binary
  std::string model;                                ///< the family (--model)
  std::string data_dir;                             ///< absolute
  nlohmann::json fixed = nlohmann::json::object();  ///< options every trial gets
  uint64_t seed = 0;
  int threads = 1;         ///< per trial
  int64_t reports = 8;     ///< validation points per trial (sets eval-every; 0: leave it)
  int64_t train_rows = 0;  ///< of the dataset, to space the reports
  std::vector<DeclaredOption> declared;  ///< TrainDeclarations(model)
};

/// A launcher that starts each trial as `aiok train` into TRIAL_DIR/model, reading its
/// metrics.json and curve.jsonl.
LaunchBuilder MakeTrainLauncher(TrainTrials trials);

/// The definition of a study of `aiok train --model MODEL` on `data_dir`.
StudyDefinition TrainStudyDefinition(const std::string& model,
                                     const std::vector<Objective>& objectives,
                                     const std::vector<Threshold>& thresholds,
                                     const nlohmann::json& space_spec, const std::string& data_dir,
                                     const nlohmann::json& fixed, uint64_t seed);

}  // namespace aiok::tune
