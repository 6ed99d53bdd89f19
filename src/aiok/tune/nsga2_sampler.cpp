// NSGA-II (Deb et al. 2002), stateless: generation g is the trials numbered [g*P, (g+1)*P).
// Its parents are the best P completed trials of the earlier generations by constrained
// non-dominated rank and crowding distance (an elitist archive); a child comes from two
// binary-tournament parents by SBX crossover and polynomial mutation in the unit cube
// (categorical coordinates: uniform crossover and random reset). Generation 0 is Sobol.
#include <algorithm>
#include <cmath>

#include "aiok/tune/samplers.h"

namespace aiok::tune {
namespace {

constexpr int64_t kPopulation = 20;
constexpr double kCrossoverProbability = 0.9;
constexpr double kSbxEta = 15.0;
constexpr double kMutationEta = 20.0;

class Nsga2Sampler final : public Sampler {
 public:
  std::vector<double> Suggest(const SuggestRequest& request) override {
    const History& h = *request.history;
    const SearchSpace& space = *request.space;
    const int64_t generation = request.trial_number / kPopulation;
    std::vector<size_t> pool;  // completed trials of earlier generations
    for (size_t i = 0; i < h.points.size(); ++i)
      if (h.numbers[i] < generation * kPopulation)
        pool.push_back(i);
    std::mt19937_64 rng = ProposalRng(request, 6);
    if (generation == 0 || pool.size() < 2) {
      if (request.attempt == 0)
        return ScrambledSobolPoint(request);
      return RandomPoint(space, rng);
    }
    std::vector<ScoredPoint> scores;
    for (size_t i : pool)
      scores.push_back(h.scores[i]);
    const std::vector<size_t> order = RankOrder(scores);
    const size_t parents = std::min<size_t>(order.size(), kPopulation);
    // Binary tournament on the rank order (rank, then crowding): the better position wins.
    std::uniform_int_distribution<size_t> pick(0, parents - 1);
    auto tournament = [&] {
      const size_t a = pick(rng), b = pick(rng);
      return &h.points[pool[order[std::min(a, b)]]];
    };
    const std::vector<double>& p1 = *tournament();
    const std::vector<double>& p2 = *tournament();
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<double> child(space.dims());
    const bool crossover = unit(rng) < kCrossoverProbability;
    for (size_t i = 0; i < space.dims(); ++i) {
      const size_t k = space.Cardinality(i);
      double a = p1[i], b = p2[i];
      // An inactive coordinate has no value to inherit: draw it.
      if (std::isnan(a))
        a = k > 0 ? std::floor(unit(rng) * k) : unit(rng);
      if (std::isnan(b))
        b = k > 0 ? std::floor(unit(rng) * k) : unit(rng);
      if (k > 0) {
        child[i] = crossover && unit(rng) < 0.5 ? b : a;
        continue;
      }
      double x = a;
      if (crossover && unit(rng) < 0.5 && std::fabs(a - b) > 1e-12) {
        // SBX: a spread factor with the polynomial distribution of index eta.
        const double u = unit(rng);
        const double beta = u <= 0.5 ? std::pow(2.0 * u, 1.0 / (kSbxEta + 1.0))
                                     : std::pow(1.0 / (2.0 * (1.0 - u)), 1.0 / (kSbxEta + 1.0));
        x = 0.5 * ((1 + beta) * a + (1 - beta) * b);
        if (unit(rng) < 0.5)
          x = 0.5 * ((1 - beta) * a + (1 + beta) * b);
      }
      child[i] = std::clamp(x, 0.0, 1.0);
    }
    // Mutation: each coordinate with probability 1/dims.
    const double p_mutate = 1.0 / static_cast<double>(std::max<size_t>(space.dims(), 1));
    for (size_t i = 0; i < space.dims(); ++i) {
      if (unit(rng) >= p_mutate)
        continue;
      const size_t k = space.Cardinality(i);
      if (k > 0) {
        child[i] = std::floor(unit(rng) * k);
        continue;
      }
      const double u = unit(rng);
      const double x = child[i];
      const double delta =
          u < 0.5 ? std::pow(2.0 * u + (1 - 2.0 * u) * std::pow(1 - x, kMutationEta + 1),
                             1.0 / (kMutationEta + 1)) - 1.0
                  : 1.0 - std::pow(2.0 * (1 - u) + 2.0 * (u - 0.5) * std::pow(x, kMutationEta + 1),
                                   1.0 / (kMutationEta + 1));
      child[i] = std::clamp(x + delta, 0.0, 1.0);
    }
    return child;
  }
};

}  // namespace

std::unique_ptr<Sampler> MakeNsga2Sampler() { return std::make_unique<Nsga2Sampler>(); }

}  // namespace aiok::tune
