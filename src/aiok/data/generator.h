// Synthetic data generators, found by name. Every generator knows the true probability behind
// each label it draws, so models trained on its data can be scored against the best AUC that
// is possible on it (the Bayes-optimal AUC).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/core/options.h"

namespace aiok::data {

/// What a finished generation reports back.
struct GeneratorSummary {
  int64_t rows = 0;
  int64_t bytes = 0;     ///< size of the main data file
  double seconds = 0.0;  ///< wall time of the generation
  double positive_rate = 0.0;
  double bayes_auc = 0.0;  ///< AUC of the true probabilities against the drawn labels
  /// Generators whose truth depends on hidden state a model can only infer from history
  /// (sequences): the best AUC without that history; NaN for the others.
  double no_history_auc = std::numeric_limits<double>::quiet_NaN();
  std::string data_file;  ///< path of the main data file
};

class Generator {
 public:
  virtual ~Generator() = default;
  /// Walks the generator's options (see core/options.h) so they can be bound to flags.
  virtual void VisitOptions(OptionVisitor& visitor) = 0;
  /// Checks the options; throws Error(kConfig) naming the bad one.
  virtual void Validate() = 0;
  /// Writes the data set into `out_dir` (created if missing). Output depends only on the
  /// options and ctx.seed, never on ctx.threads.
  virtual GeneratorSummary Generate(const RunContext& ctx, const std::string& out_dir) = 0;
};

/// Generators by name. Filled explicitly by RegisterBuiltinGenerators().
class GeneratorRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Generator>()>;

  void Register(const std::string& name, const std::string& description, Factory factory);
  /// Creates a generator; an unknown name throws Error(kConfig) listing the valid names.
  std::unique_ptr<Generator> Create(const std::string& name) const;
  /// Registered names, sorted.
  std::vector<std::string> Names() const;
  const std::string& Description(const std::string& name) const;

 private:
  struct Entry {
    std::string description;
    Factory factory;
  };
  std::map<std::string, Entry> entries_;
};

/// Registers every generator aiok ships ("criteo", "sequences", "tabular").
void RegisterBuiltinGenerators(GeneratorRegistry& registry);

// ---- pieces the generators share ---------------------------------------------------------

/// The intercept b for which the mean of sigmoid(b + score(row)) over an evenly strided
/// sample of up to 200000 of a file's `rows` rows is `positive_rate` (Newton's method).
/// Deterministic: the sample depends only on `rows`.
double SolveIntercept(int64_t rows, double positive_rate,
                      const std::function<double(int64_t row)>& score);

/// How well the true probabilities `truth` predict `labels` (one per row, row order): for the
/// whole file ("all") and each Kaggle split ("train", "valid", "test"; see splits.h), the row
/// range, rows, positive rate, Bayes-optimal AUC and logloss. The "bayes" of datagen.json.
nlohmann::json BayesScores(const std::vector<float>& truth, const std::vector<uint8_t>& labels);

}  // namespace aiok::data
