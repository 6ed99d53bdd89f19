#include "aiok/tune/sampler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/core/suggest.h"
#include "aiok/tune/samplers.h"

namespace aiok::tune {

std::mt19937_64 ProposalRng(const SuggestRequest& request, uint64_t stream) {
  return std::mt19937_64(HashTriple(HashPair(request.seed, stream),
                                    static_cast<uint64_t>(request.trial_number),
                                    static_cast<uint64_t>(request.attempt)));
}

std::vector<double> RandomPoint(const SearchSpace& space, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> point(space.dims());
  for (size_t i = 0; i < space.dims(); ++i) {
    const size_t k = space.Cardinality(i);
    point[i] = k > 0 ? static_cast<double>(std::min(k - 1, static_cast<size_t>(unit(rng) * k)))
                     : unit(rng);
  }
  return point;
}

void SamplerRegistry::Register(const std::string& name, const std::string& description,
                               Factory factory) {
  entries_[name] = {description, std::move(factory)};
}

std::vector<std::string> SamplerRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_)
    names.push_back(name);
  return names;
}

const std::string& SamplerRegistry::Description(const std::string& name) const {
  auto it = entries_.find(name);
  AIOK_CHECK(it != entries_.end(), ErrorKind::kUsage, "unknown sampler '{}' (valid: {})", name,
             fmt::join(Names(), ", "));
  return it->second.first;
}

std::unique_ptr<Sampler> SamplerRegistry::Create(const std::string& name) const {
  auto it = entries_.find(name);
  AIOK_CHECK(it != entries_.end(), ErrorKind::kUsage, "--sampler: unknown sampler '{}' (valid: "
             "auto, {}){}", name, fmt::join(Names(), ", "), DidYouMean(name, Names()));
  return it->second.second();
}

void RegisterBuiltinSamplers(SamplerRegistry& registry) {
  registry.Register("random", "independent uniform draws (log scales honoured)",
                    [] { return MakeRandomSampler(); });
  registry.Register("sobol", "scrambled Sobol sequence: even coverage for small budgets",
                    [] { return MakeSobolSampler(); });
  registry.Register("tpe",
                    "multivariate tree-structured Parzen estimator; multi-objective by "
                    "non-dominated rank; feasible trials first",
                    [] { return MakeTpeSampler(); });
  registry.Register("nsga2",
                    "NSGA-II: elitist non-dominated sorting, crowding, SBX crossover and "
                    "polynomial mutation; constrained domination",
                    [] { return MakeNsga2Sampler(); });
  registry.Register("gp",
                    "GP-BO: Gaussian process (Matern-5/2 ARD, fitted noise), log expected "
                    "improvement times the probability of meeting the thresholds; ParEGO "
                    "scalarization for 2+ objectives",
                    [] { return MakeGpSampler(); });
}

const SamplerRegistry& BuiltinSamplers() {
  static const SamplerRegistry registry = [] {
    SamplerRegistry r;
    RegisterBuiltinSamplers(r);
    return r;
  }();
  return registry;
}

std::pair<std::string, std::string> DefaultSampler(int64_t trials, size_t objectives,
                                                   size_t dims) {
  if (trials <= 12)
    return {"sobol", fmt::format("{} trials are too few to fit a model; Sobol covers the "
                                 "space evenly", trials)};
  if (objectives >= 2 && trials >= 500)
    return {"nsga2", fmt::format("{} objectives and {} trials: enough generations for NSGA-II",
                                 objectives, trials)};
  // GP-BO beat TPE on Branin and Hartmann6 at 100 trials (docs/BENCHMARKS.md); its cubic
  // cost and the unmeasured multi-objective case keep TPE for the rest.
  if (objectives == 1 && trials <= kGpMaxTrials)
    return {"gp", fmt::format("one objective and {} trials over {} parameters: GP-BO (Sobol "
                              "for its first 10)", trials, dims)};
  return {"tpe", fmt::format("{} objective(s), {} trials over {} parameters: multivariate TPE "
                             "(Sobol for its first 10)", objectives, trials, dims)};
}

}  // namespace aiok::tune
