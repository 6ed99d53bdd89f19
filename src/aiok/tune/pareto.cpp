#include "aiok/tune/pareto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace aiok::tune {

bool Dominates(const ScoredPoint& a, const ScoredPoint& b) {
  if (a.violation > 0 || b.violation > 0) {
    if (a.violation == 0)
      return true;
    if (b.violation == 0)
      return false;
    return a.violation < b.violation;
  }
  bool better = false;
  for (size_t i = 0; i < a.values.size(); ++i) {
    if (a.values[i] > b.values[i])
      return false;
    if (a.values[i] < b.values[i])
      better = true;
  }
  return better;
}

std::vector<int> NondominatedRanks(const std::vector<ScoredPoint>& points) {
  const size_t n = points.size();
  std::vector<int> rank(n, -1);
  std::vector<int> dominated_by(n, 0);
  std::vector<std::vector<size_t>> dominates(n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      if (i != j && Dominates(points[i], points[j])) {
        dominates[i].push_back(j);
        ++dominated_by[j];
      }
  std::vector<size_t> front;
  for (size_t i = 0; i < n; ++i)
    if (dominated_by[i] == 0)
      front.push_back(i);
  for (int r = 0; !front.empty(); ++r) {
    std::vector<size_t> next;
    for (size_t i : front) {
      rank[i] = r;
      for (size_t j : dominates[i])
        if (--dominated_by[j] == 0)
          next.push_back(j);
    }
    front = std::move(next);
  }
  return rank;
}

std::vector<double> CrowdingDistances(const std::vector<ScoredPoint>& points,
                                      const std::vector<size_t>& indices) {
  const size_t n = indices.size();
  std::vector<double> distance(n, 0.0);
  if (n <= 2) {
    std::fill(distance.begin(), distance.end(), std::numeric_limits<double>::infinity());
    return distance;
  }
  const size_t m = points[indices[0]].values.size();
  std::vector<size_t> order(n);
  for (size_t k = 0; k < m; ++k) {
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return points[indices[a]].values[k] < points[indices[b]].values[k];
    });
    const double lo = points[indices[order.front()]].values[k];
    const double hi = points[indices[order.back()]].values[k];
    distance[order.front()] = distance[order.back()] = std::numeric_limits<double>::infinity();
    if (hi <= lo)
      continue;
    for (size_t i = 1; i + 1 < n; ++i)
      distance[order[i]] += (points[indices[order[i + 1]]].values[k] -
                             points[indices[order[i - 1]]].values[k]) /
                            (hi - lo);
  }
  return distance;
}

std::vector<size_t> RankOrder(const std::vector<ScoredPoint>& points) {
  const std::vector<int> rank = NondominatedRanks(points);
  std::vector<double> crowding(points.size(), 0.0);
  const int max_rank = points.empty() ? -1 : *std::max_element(rank.begin(), rank.end());
  for (int r = 0; r <= max_rank; ++r) {
    std::vector<size_t> front;
    for (size_t i = 0; i < points.size(); ++i)
      if (rank[i] == r)
        front.push_back(i);
    const std::vector<double> d = CrowdingDistances(points, front);
    for (size_t i = 0; i < front.size(); ++i)
      crowding[front[i]] = d[i];
  }
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (rank[a] != rank[b])
      return rank[a] < rank[b];
    // One objective: a front is one value (or ties); order by violation then value.
    if (points[a].violation != points[b].violation)
      return points[a].violation < points[b].violation;
    if (points[a].values.size() == 1)
      return points[a].values[0] < points[b].values[0];
    return crowding[a] > crowding[b];
  });
  return order;
}

namespace {

double HypervolumeRecursive(std::vector<std::vector<double>> points,
                            const std::vector<double>& reference) {
  if (points.empty())
    return 0.0;
  const size_t m = reference.size();
  if (m == 1) {
    double best = reference[0];
    for (const auto& p : points)
      best = std::min(best, p[0]);
    return reference[0] - best;
  }
  if (m == 2) {
    std::sort(points.begin(), points.end());
    double volume = 0.0, last_y = reference[1];
    for (const auto& p : points) {
      if (p[1] < last_y) {
        volume += (reference[0] - p[0]) * (last_y - p[1]);
        last_y = p[1];
      }
    }
    return volume;
  }
  // Slice along the last objective: between consecutive values, the (m-1)-dimensional volume
  // of the points at or below the slice.
  std::sort(points.begin(), points.end(),
            [&](const auto& a, const auto& b) { return a[m - 1] < b[m - 1]; });
  double volume = 0.0;
  std::vector<std::vector<double>> below;
  const std::vector<double> sub_reference(reference.begin(), reference.end() - 1);
  for (size_t i = 0; i < points.size(); ++i) {
    below.emplace_back(points[i].begin(), points[i].end() - 1);
    const double upper = i + 1 < points.size() ? points[i + 1][m - 1] : reference[m - 1];
    const double height = upper - points[i][m - 1];
    if (height > 0)
      volume += height * HypervolumeRecursive(below, sub_reference);
  }
  return volume;
}

}  // namespace

double Hypervolume(const std::vector<std::vector<double>>& points,
                   const std::vector<double>& reference) {
  std::vector<std::vector<double>> inside;
  for (const auto& p : points) {
    bool ok = true;
    for (size_t k = 0; k < reference.size(); ++k)
      ok = ok && p[k] < reference[k];
    if (ok)
      inside.push_back(p);
  }
  return HypervolumeRecursive(std::move(inside), reference);
}

}  // namespace aiok::tune
