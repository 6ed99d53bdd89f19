// Multi-objective bookkeeping shared by samplers, pruners and reports. Points are in
// minimization form (objectives.h: Minimized); infeasible points carry a positive violation
// and rank behind every feasible one (Deb's constrained domination).
#pragma once

#include <cstddef>
#include <vector>

namespace aiok::tune {

struct ScoredPoint {
  std::vector<double> values;  ///< minimization form
  double violation = 0.0;      ///< 0: feasible
};

/// a dominates b: no worse in every objective and better in one (constrained: a feasible
/// point dominates an infeasible one; of two infeasible points the smaller violation does).
bool Dominates(const ScoredPoint& a, const ScoredPoint& b);

/// Non-dominated sorting: rank 0 is the Pareto front, rank 1 the front once it is removed, ...
std::vector<int> NondominatedRanks(const std::vector<ScoredPoint>& points);

/// Crowding distance of each point among `indices` (one front): infinite at the extremes.
std::vector<double> CrowdingDistances(const std::vector<ScoredPoint>& points,
                                      const std::vector<size_t>& indices);

/// Points ordered best first: by rank, then by crowding distance (larger first). With one
/// objective this is the order of the value.
std::vector<size_t> RankOrder(const std::vector<ScoredPoint>& points);

/// Hypervolume dominated by the feasible points and bounded by `reference` (minimization
/// form; points not strictly better than it in every objective add nothing). Exact for 2
/// objectives (a sweep) and for more by inclusion of slices (fine for the few dozen points a
/// study has).
double Hypervolume(const std::vector<std::vector<double>>& points,
                   const std::vector<double>& reference);

}  // namespace aiok::tune
