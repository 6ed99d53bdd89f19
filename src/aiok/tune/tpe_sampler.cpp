// Multivariate TPE (Bergstra et al. 2011; the multivariate form of Falkner et al. 2018 as in
// Optuna): the completed trials are split into the best gamma(n) = min(ceil(n/10), 25) and the
// rest; each group becomes a Parzen mixture with one joint kernel per trial plus a broad prior
// kernel; candidates drawn from the good mixture are scored by log l(x) - log g(x).
// Multi-objective and constrained studies rank trials by (feasibility, non-dominated rank,
// crowding) before the split (pareto.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "aiok/tune/samplers.h"

namespace aiok::tune {
namespace {

constexpr size_t kStartupTrials = 10;
constexpr int kCandidates = 24;
constexpr double kPriorWeight = 1.0;

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Log density of N(mu, sigma) truncated to [0, 1] at x.
double LogTruncatedNormal(double x, double mu, double sigma) {
  const double z = (x - mu) / sigma;
  const double mass = NormalCdf((1.0 - mu) / sigma) - NormalCdf(-mu / sigma);
  return -0.5 * z * z - std::log(sigma * std::sqrt(2.0 * M_PI)) - std::log(std::max(mass, 1e-300));
}

// A Parzen mixture over the unit cube: one kernel per observation and the prior.
class ParzenEstimator {
 public:
  ParzenEstimator(const SearchSpace& space, std::vector<const std::vector<double>*> observations)
      : space_(space), observations_(std::move(observations)) {
    const double n = static_cast<double>(std::max<size_t>(observations_.size(), 1));
    const double d = static_cast<double>(space.dims());
    // Scott-like bandwidth shrinking with the count, as Optuna's multivariate TPE.
    sigma_ = 0.2 * std::pow(n, -1.0 / (d + 4.0));
    sigma_ = std::clamp(sigma_, 1.0 / std::min(100.0, n + 1.0), 1.0);
  }

  // Draws a point: pick a kernel (each observation weight 1, the prior kPriorWeight), then each
  // coordinate from it.
  std::vector<double> Sample(std::mt19937_64& rng) const {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const double total = static_cast<double>(observations_.size()) + kPriorWeight;
    const double pick = unit(rng) * total;
    const std::vector<double>* obs =
        pick < static_cast<double>(observations_.size())
            ? observations_[static_cast<size_t>(pick)]
            : nullptr;  // the prior
    std::vector<double> x(space_.dims());
    for (size_t i = 0; i < space_.dims(); ++i) {
      const size_t k = space_.Cardinality(i);
      const double center = obs ? (*obs)[i] : NAN;
      if (k > 0) {
        // Kernel: the observed choice with weight 1, every choice with kPriorWeight / k.
        std::vector<double> p(k, kPriorWeight / static_cast<double>(k));
        if (!std::isnan(center))
          p[static_cast<size_t>(center)] += 1.0;
        std::discrete_distribution<size_t> choose(p.begin(), p.end());
        x[i] = static_cast<double>(choose(rng));
      } else {
        const double mu = std::isnan(center) ? 0.5 : center;
        const double sigma = std::isnan(center) ? 1.0 : sigma_;
        std::normal_distribution<double> normal(mu, sigma);
        double v = NAN;
        for (int tries = 0; tries < 100 && !(v >= 0.0 && v <= 1.0); ++tries)
          v = normal(rng);
        x[i] = std::clamp(std::isnan(v) ? mu : v, 0.0, 1.0);
      }
    }
    return x;
  }

  // Log density at x over the coordinates `active` says count.
  double LogDensity(const std::vector<double>& x, const std::vector<bool>& active) const {
    std::vector<double> terms;
    terms.reserve(observations_.size() + 1);
    for (size_t c = 0; c <= observations_.size(); ++c) {
      const std::vector<double>* obs = c < observations_.size() ? observations_[c] : nullptr;
      double log_p = std::log(c < observations_.size() ? 1.0 : kPriorWeight);
      for (size_t i = 0; i < space_.dims(); ++i) {
        if (!active[i])
          continue;
        const size_t k = space_.Cardinality(i);
        const double center = obs ? (*obs)[i] : NAN;
        if (k > 0) {
          const double hit = !std::isnan(center) && static_cast<size_t>(center) ==
                                                         static_cast<size_t>(x[i]);
          log_p += std::log((kPriorWeight / static_cast<double>(k) + hit) /
                            (kPriorWeight + (std::isnan(center) ? 0.0 : 1.0)));
        } else if (!std::isnan(center)) {
          log_p += LogTruncatedNormal(x[i], center, sigma_);
        } else {
          log_p += LogTruncatedNormal(x[i], 0.5, 1.0);
        }
      }
      terms.push_back(log_p);
    }
    const double peak = *std::max_element(terms.begin(), terms.end());
    double sum = 0.0;
    for (double t : terms)
      sum += std::exp(t - peak);
    return peak + std::log(sum) -
           std::log(static_cast<double>(observations_.size()) + kPriorWeight);
  }

 private:
  const SearchSpace& space_;
  std::vector<const std::vector<double>*> observations_;
  double sigma_ = 1.0;
};

class TpeSampler final : public Sampler {
 public:
  std::vector<double> Suggest(const SuggestRequest& request) override {
    const History& h = *request.history;
    const SearchSpace& space = *request.space;
    const size_t n = h.points.size();
    if (n < kStartupTrials) {
      if (request.attempt == 0)
        return ScrambledSobolPoint(request);
      std::mt19937_64 rng = ProposalRng(request, 4);
      return RandomPoint(space, rng);
    }
    const std::vector<size_t> order = RankOrder(h.scores);
    const size_t n_below =
        std::max<size_t>(1, std::min<size_t>(25, static_cast<size_t>(std::ceil(0.1 * n))));
    std::vector<const std::vector<double>*> below, above;
    for (size_t r = 0; r < order.size(); ++r)
      (r < n_below ? below : above).push_back(&h.points[order[r]]);
    const ParzenEstimator good(space, below), bad(space, above);
    std::mt19937_64 rng = ProposalRng(request, 5);
    std::vector<double> best;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < kCandidates; ++c) {
      std::vector<double> x = good.Sample(rng);
      // Only the coordinates the candidate switches on carry information.
      const std::vector<double> encoded = space.Encode(space.Decode(x));
      std::vector<bool> active(space.dims());
      for (size_t i = 0; i < space.dims(); ++i)
        active[i] = !std::isnan(encoded[i]);
      const double score = good.LogDensity(x, active) - bad.LogDensity(x, active);
      if (score > best_score) {
        best_score = score;
        best = std::move(x);
      }
    }
    return best;
  }
};

}  // namespace

std::unique_ptr<Sampler> MakeTpeSampler() { return std::make_unique<TpeSampler>(); }

}  // namespace aiok::tune
