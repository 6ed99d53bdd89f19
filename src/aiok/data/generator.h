// Synthetic data generators, found by name. Every generator knows the true probability behind
// each label it draws, so models trained on its data can be scored against the best AUC that
// is possible on it (the Bayes-optimal AUC).
#pragma once

#include <functional>
#include <map>
#include <memory>
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
  std::string data_file;   ///< path of the main data file
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

/// Registers every generator aiok ships ("criteo").
void RegisterBuiltinGenerators(GeneratorRegistry& registry);

}  // namespace aiok::data
