// Samplers propose the next configuration of a study. Every sampler is stateless: it derives
// its proposal from the study's history (the store), the trial number and the seed, so that
// several tune processes sharing a study, and a resumed study, sample as one would.
//
// Samplers work in the unit cube of the search space (search_space.h): numeric coordinates in
// [0, 1], categorical coordinates the choice index. Thresholds reach them as each completed
// trial's violation: model-based samplers rank infeasible trials behind feasible ones.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "aiok/tune/pareto.h"
#include "aiok/tune/search_space.h"

namespace aiok::tune {

/// What a sampler sees of the study.
struct History {
  std::vector<std::vector<double>> points;   ///< completed trials, encoded (NaN: inactive)
  std::vector<ScoredPoint> scores;           ///< their objective values, minimization form
  std::vector<int64_t> numbers;              ///< their trial numbers
  /// Per point: 1 if the trial was pruned, its scores then a placeholder ranked behind every
  /// complete trial. May be empty (no pruned trials).
  std::vector<char> pruned;
  std::vector<std::vector<double>> pending;  ///< running trials, encoded
  size_t objectives = 1;
};

struct SuggestRequest {
  const SearchSpace* space = nullptr;
  const History* history = nullptr;
  int64_t trial_number = 0;
  uint64_t seed = 0;
  /// 0 first; a proposal that repeats a configuration is asked for again with attempt + 1.
  int attempt = 0;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  /// A point of the space's unit cube (every coordinate set; Decode() drops inactive ones).
  virtual std::vector<double> Suggest(const SuggestRequest& request) = 0;
};

/// The random generator of one proposal: a function of (seed, trial number, attempt).
std::mt19937_64 ProposalRng(const SuggestRequest& request, uint64_t stream);
/// A uniformly random point of the space.
std::vector<double> RandomPoint(const SearchSpace& space, std::mt19937_64& rng);

/// Samplers by name, filled by RegisterBuiltinSamplers().
class SamplerRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Sampler>()>;
  void Register(const std::string& name, const std::string& description, Factory factory);
  std::vector<std::string> Names() const;
  const std::string& Description(const std::string& name) const;
  /// Throws Error(kUsage) listing the valid names for an unknown one.
  std::unique_ptr<Sampler> Create(const std::string& name) const;

 private:
  std::map<std::string, std::pair<std::string, Factory>> entries_;
};

/// random, sobol, tpe, nsga2, gp.
void RegisterBuiltinSamplers(SamplerRegistry& registry);
/// The registry with the built-in samplers.
const SamplerRegistry& BuiltinSamplers();

/// The largest budget `--sampler auto` gives GP-BO (one objective).
constexpr int64_t kGpMaxTrials = 200;
/// The sampler `--sampler auto` picks for a budget of `trials` and `objectives`, and why.
std::pair<std::string, std::string> DefaultSampler(int64_t trials, size_t objectives,
                                                   size_t dims);

}  // namespace aiok::tune
