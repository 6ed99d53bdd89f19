// GP-BO: a Gaussian process (gaussian_process.h: Matérn-5/2 ARD, fitted noise) on the study's
// trials, and the point maximizing log expected improvement times the probability of meeting
// the thresholds.
//
// - Features: numeric coordinates as the unit cube has them (an inactive one at -0.5, away
//   from every active value), categorical ones one-hot (all zero when inactive).
// - Targets: the objective, standardized. Two or more objectives are scalarized per trial by
//   ParEGO (Knowles 2006): objectives normalized to [0, 1] over the study, a random weight
//   vector drawn from the trial's generator, the augmented Chebyshev sum
//   max_j w_j f_j + 0.05 sum_j w_j f_j. A pruned trial counts as the worst value seen.
// - Thresholds: a trial that missed one counts as the worst feasible value plus its
//   violation, and a second GP on +1 (missed) / -1 (met) gives the probability of
//   feasibility P(c <= 0) that multiplies the expected improvement; the incumbent is the best
//   feasible trial. With no feasible trial yet the violation itself is minimized.
// - Running trials are added at the model's mean (kriging believer), so W workers do not
//   propose the same point.
// - The acquisition is maximized by random candidates plus perturbations of the best trials,
//   then a stochastic local search from the best few.
// The first kStartupTrials are Sobol; a repeat (attempt > 0) is a random point. Everything is
// drawn from ProposalRng, so a proposal is a function of (history, trial number, seed).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "aiok/tune/gaussian_process.h"
#include "aiok/tune/samplers.h"

namespace aiok::tune {
namespace {

constexpr size_t kStartupTrials = 10;
constexpr size_t kMaxPoints = 200;  // the GP's cubic cost: best half + most recent beyond this
constexpr int kRandomCandidates = 1000;
constexpr int kPerturbedPerIncumbent = 40;
constexpr size_t kIncumbents = 5;
constexpr size_t kLocalStarts = 5;
constexpr int kLocalSteps = 100;
constexpr double kInactiveFeature = -0.5;
constexpr double kParegoRho = 0.05;

// The GP's features of an encoded point (NaN: inactive).
std::vector<double> Features(const SearchSpace& space, const std::vector<double>& encoded) {
  std::vector<double> f;
  for (size_t i = 0; i < space.dims(); ++i) {
    const size_t k = space.Cardinality(i);
    if (k == 0) {
      f.push_back(std::isnan(encoded[i]) ? kInactiveFeature : encoded[i]);
      continue;
    }
    for (size_t c = 0; c < k; ++c)
      f.push_back(!std::isnan(encoded[i]) && static_cast<size_t>(encoded[i]) == c ? 1.0 : 0.0);
  }
  return f;
}

// Standardizes y in place; returns the (mean, scale) used.
std::pair<double, double> Standardize(std::vector<double>& y) {
  const double n = static_cast<double>(y.size());
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double var = 0.0;
  for (double v : y)
    var += (v - mean) * (v - mean);
  const double scale = var > 0 ? std::sqrt(var / n) : 1.0;
  for (double& v : y)
    v = (v - mean) / scale;
  return {mean, scale};
}

// One scalar per history point to minimize (NaN for pruned points, filled in by the caller).
std::vector<double> Scalarize(const History& h, std::mt19937_64& rng) {
  const size_t n = h.points.size();
  auto pruned = [&](size_t i) { return i < h.pruned.size() && h.pruned[i]; };
  std::vector<double> y(n, NAN);
  if (h.objectives <= 1) {
    for (size_t i = 0; i < n; ++i)
      if (!pruned(i))
        y[i] = h.scores[i].values[0];
    return y;
  }
  const size_t m = h.objectives;
  std::vector<double> lo(m, INFINITY), hi(m, -INFINITY);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m && !pruned(i); ++j) {
      lo[j] = std::min(lo[j], h.scores[i].values[j]);
      hi[j] = std::max(hi[j], h.scores[i].values[j]);
    }
  // A uniform weight vector on the simplex: normalized exponential draws.
  std::exponential_distribution<double> exponential(1.0);
  std::vector<double> w(m);
  for (double& v : w)
    v = exponential(rng);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& v : w)
    v /= total;
  for (size_t i = 0; i < n; ++i) {
    if (pruned(i))
      continue;
    double worst = -INFINITY, sum = 0.0;
    for (size_t j = 0; j < m; ++j) {
      const double range = hi[j] > lo[j] ? hi[j] - lo[j] : 1.0;
      const double f = w[j] * (h.scores[i].values[j] - lo[j]) / range;
      worst = std::max(worst, f);
      sum += f;
    }
    y[i] = worst + kParegoRho * sum;
  }
  return y;
}

class GpSampler final : public Sampler {
 public:
  std::vector<double> Suggest(const SuggestRequest& request) override {
    const History& h = *request.history;
    const SearchSpace& space = *request.space;
    const size_t n = h.points.size();
    if (n < kStartupTrials || request.attempt > 0) {
      if (request.attempt == 0)
        return ScrambledSobolPoint(request);
      std::mt19937_64 rng = ProposalRng(request, 8);
      return RandomPoint(space, rng);
    }
    std::mt19937_64 rng = ProposalRng(request, 7);
    std::vector<double> y = Scalarize(h, rng);
    double worst = -INFINITY;
    for (double v : y)
      if (!std::isnan(v))
        worst = std::max(worst, v);
    if (!std::isfinite(worst))
      return RandomPoint(space, rng);  // every trial was pruned: nothing to model
    auto pruned = [&](size_t i) { return i < h.pruned.size() && h.pruned[i]; };
    // A trial that missed a threshold counts as the worst feasible value plus its violation
    // (in units of the feasible values' range), as the other samplers rank it behind every
    // feasible one; with no feasible trial yet, the violation alone is minimized.
    double feasible_lo = INFINITY, feasible_hi = -INFINITY;
    for (size_t i = 0; i < n; ++i)
      if (!pruned(i) && h.scores[i].violation <= 0) {
        feasible_lo = std::min(feasible_lo, y[i]);
        feasible_hi = std::max(feasible_hi, y[i]);
      }
    const bool any_feasible = std::isfinite(feasible_lo);
    const double range = feasible_hi > feasible_lo ? feasible_hi - feasible_lo : 1.0;
    for (size_t i = 0; i < n; ++i) {
      if (pruned(i) || h.scores[i].violation <= 0)
        continue;
      y[i] = any_feasible ? feasible_hi + range * (0.1 + h.scores[i].violation)
                          : h.scores[i].violation;
      worst = std::max(worst, y[i]);
    }
    for (double& v : y)
      if (std::isnan(v))
        v = worst;

    // The points the GP sees: all of them, or the best and the most recent half each.
    std::vector<size_t> keep(n);
    std::iota(keep.begin(), keep.end(), 0);
    if (n > kMaxPoints) {
      std::vector<size_t> by_value = keep;
      std::stable_sort(by_value.begin(), by_value.end(),
                       [&](size_t a, size_t b) { return y[a] < y[b]; });
      std::vector<char> chosen(n, 0);
      for (size_t r = 0; r < kMaxPoints / 2; ++r)
        chosen[by_value[r]] = 1;
      for (size_t i = n, added = 0; i-- > 0 && added < kMaxPoints - kMaxPoints / 2;)
        if (!chosen[i]) {
          chosen[i] = 1;
          ++added;
        }
      keep.clear();
      for (size_t i = 0; i < n; ++i)
        if (chosen[i])
          keep.push_back(i);
    }
    std::vector<std::vector<double>> x;
    std::vector<double> targets;
    for (size_t i : keep) {
      x.push_back(Features(space, h.points[i]));
      targets.push_back(y[i]);
    }
    Standardize(targets);
    // The incumbent: the best feasible complete trial (with none, the smallest violation).
    double best = INFINITY;
    bool any_infeasible = false;
    for (size_t r = 0; r < keep.size(); ++r) {
      const size_t i = keep[r];
      if (pruned(i))
        continue;
      if (h.scores[i].violation > 0)
        any_infeasible = true;
      if (h.scores[i].violation <= 0 || !any_feasible)
        best = std::min(best, targets[r]);
    }
    GaussianProcess gp = GaussianProcess::Fit(x, targets, rng, 3);
    if (!h.pending.empty()) {
      std::vector<std::vector<double>> xp = x;
      std::vector<double> yp = targets;
      for (const std::vector<double>& p : h.pending) {
        std::vector<double> f = Features(space, p);
        double mean = 0, var = 0;
        gp.Predict(f, &mean, &var);
        xp.push_back(std::move(f));
        yp.push_back(mean);
      }
      gp = GaussianProcess(std::move(xp), std::move(yp), gp.theta());
    }
    // Feasibility model: only when some complete trial missed a threshold.
    std::optional<GaussianProcess> feasibility;
    if (any_infeasible) {
      std::vector<std::vector<double>> xc;
      std::vector<double> c;
      for (size_t r = 0; r < keep.size(); ++r) {
        if (pruned(keep[r]))
          continue;
        xc.push_back(x[r]);
        c.push_back(h.scores[keep[r]].violation > 0 ? 1.0 : -1.0);
      }
      feasibility = GaussianProcess::Fit(std::move(xc), std::move(c), rng, 1);
    }

    auto acquisition = [&](const std::vector<double>& point) {
      const std::vector<double> f = Features(space, space.Encode(space.Decode(point)));
      double value = 0.0;
      if (std::isfinite(best)) {
        double mean = 0, var = 0;
        gp.Predict(f, &mean, &var);
        value += LogExpectedImprovement(mean, std::sqrt(var), best);
      }
      if (feasibility) {
        double mean = 0, var = 0;
        feasibility->Predict(f, &mean, &var);
        value += LogNormalCdf(-mean / std::sqrt(var));
      }
      return value;
    };

    std::normal_distribution<double> normal(0.0, 1.0);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // A neighbour of `point`: numeric coordinates moved by N(0, step) (each with probability
    // 1/2, at least one), a categorical one redrawn with probability 1/dims.
    auto neighbour = [&](const std::vector<double>& point, double step) {
      std::vector<double> out = point;
      const double p_cat = 1.0 / static_cast<double>(space.dims());
      bool moved = false;
      for (size_t i = 0; i < space.dims(); ++i) {
        const size_t k = space.Cardinality(i);
        if (k > 0) {
          if (unit(rng) < p_cat) {
            out[i] = std::floor(unit(rng) * static_cast<double>(k));
            moved = true;
          }
        } else if (unit(rng) < 0.5) {
          out[i] = std::clamp(point[i] + step * normal(rng), 0.0, 1.0);
          moved = true;
        }
      }
      if (!moved) {
        const size_t i = std::min(space.dims() - 1,
                                  static_cast<size_t>(unit(rng) * static_cast<double>(space.dims())));
        const size_t k = space.Cardinality(i);
        out[i] = k > 0 ? std::floor(unit(rng) * static_cast<double>(k))
                       : std::clamp(point[i] + step * normal(rng), 0.0, 1.0);
      }
      return out;
    };
    // A history point with its inactive coordinates filled in, as a unit-cube point.
    auto filled = [&](const std::vector<double>& encoded) {
      std::vector<double> out = encoded;
      for (size_t i = 0; i < out.size(); ++i)
        if (std::isnan(out[i])) {
          const size_t k = space.Cardinality(i);
          out[i] = k > 0 ? std::floor(unit(rng) * static_cast<double>(k)) : unit(rng);
        }
      return out;
    };

    std::vector<std::pair<double, std::vector<double>>> candidates;
    for (int c = 0; c < kRandomCandidates; ++c) {
      std::vector<double> p = RandomPoint(space, rng);
      candidates.emplace_back(acquisition(p), std::move(p));
    }
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const bool fa = !pruned(a) && h.scores[a].violation <= 0;
      const bool fb = !pruned(b) && h.scores[b].violation <= 0;
      return fa != fb ? fa : y[a] < y[b];
    });
    for (size_t r = 0; r < std::min(kIncumbents, n); ++r) {
      const std::vector<double> base = filled(h.points[order[r]]);
      for (int c = 0; c < kPerturbedPerIncumbent; ++c) {
        std::vector<double> p = neighbour(base, c % 2 ? 0.02 : 0.1);
        candidates.emplace_back(acquisition(p), std::move(p));
      }
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::pair<double, std::vector<double>> winner = candidates.front();
    for (size_t s = 0; s < std::min(kLocalStarts, candidates.size()); ++s) {
      auto current = candidates[s];
      for (int step = 0; step < kLocalSteps; ++step) {
        // Step sizes from 0.1 down to 0.001, geometrically.
        const double size = 0.1 * std::pow(0.01, static_cast<double>(step) / (kLocalSteps - 1));
        std::vector<double> p = neighbour(current.second, size);
        const double value = acquisition(p);
        if (value > current.first)
          current = {value, std::move(p)};
      }
      if (current.first > winner.first)
        winner = std::move(current);
    }
    return winner.second;
  }
};

}  // namespace

std::unique_ptr<Sampler> MakeGpSampler() { return std::make_unique<GpSampler>(); }

}  // namespace aiok::tune
