#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/tune/samplers.h"
#include "aiok/tune/tuner.h"

namespace aiok::tune {
namespace {

TEST(SobolTest, EveryDimensionIsBalancedOverPowersOfTwo) {
  // The defining property of a (t, s)-sequence in base 2: the first 2^k points put exactly one
  // point in each interval [i / 2^k, (i + 1) / 2^k) of every coordinate.
  for (int k : {1, 4, 7}) {
    const uint64_t n = uint64_t{1} << k;
    for (size_t d = 0; d < kSobolDims; ++d) {
      std::set<uint64_t> cells;
      for (uint64_t i = 0; i < n; ++i)
        cells.insert(static_cast<uint64_t>(SobolPoint(i, kSobolDims)[d] * n));
      EXPECT_EQ(cells.size(), n) << "dimension " << d << ", 2^" << k << " points";
    }
  }
  EXPECT_DOUBLE_EQ(SobolPoint(1, 2)[0], 0.5);
  EXPECT_TRUE(std::isnan(SobolPoint(1, kSobolDims + 1)[kSobolDims]));
}

TEST(SobolTest, PairsOfDimensionsAreBalancedToo) {
  // 2^k points in 2-D: each of the 2^(k/2) x 2^(k/2) cells gets one point for (t=0) pairs
  // such as dimensions 0 and 1.
  std::set<std::pair<int, int>> cells;
  for (uint64_t i = 0; i < 64; ++i) {
    const auto p = SobolPoint(i, 2);
    cells.insert({static_cast<int>(p[0] * 8), static_cast<int>(p[1] * 8)});
  }
  EXPECT_EQ(cells.size(), 64u);
}

// A study run in-process: f(point) to minimize over a float space, with `sampler`.
double BestAfter(const std::string& sampler_name, int trials, uint64_t seed,
                 double (*f)(const nlohmann::json&), const SearchSpace& space,
                 size_t objectives = 1) {
  const auto sampler = BuiltinSamplers().Create(sampler_name);
  History h;
  h.objectives = objectives;
  double best = INFINITY;
  for (int t = 0; t < trials; ++t) {
    SuggestRequest r{&space, &h, t, seed, 0};
    const nlohmann::json a = space.Decode(sampler->Suggest(r));
    const double y = f(a);
    best = std::min(best, y);
    h.points.push_back(space.Encode(a));
    h.scores.push_back({{y}, 0.0});
    h.numbers.push_back(t);
  }
  return best;
}

double Sphere(const nlohmann::json& a) {
  return std::pow(a["x"].get<double>() - 0.7, 2) + std::pow(a["y"].get<double>() + 0.2, 2);
}

TEST(SamplerTest, ModelBasedSamplersBeatRandomOnASphere) {
  const SearchSpace space = SearchSpace::FromSpec(
      ParseConfigText("x: {low: -2.0, high: 2.0}\ny: {low: -2.0, high: 2.0}", "t"), {}, "t");
  // Medians over seeds, so that one lucky draw decides nothing.
  auto median = [&](const std::string& name) {
    std::vector<double> best;
    for (uint64_t seed = 1; seed <= 7; ++seed)
      best.push_back(BestAfter(name, 60, seed, Sphere, space));
    std::sort(best.begin(), best.end());
    return best[3];
  };
  const double random = median("random"), tpe = median("tpe"), nsga2 = median("nsga2"),
               gp = median("gp");
  EXPECT_LT(tpe, random) << "tpe " << tpe << " random " << random;
  EXPECT_LT(tpe, 0.01);
  EXPECT_LT(gp, 1e-4) << "gp " << gp;
  EXPECT_LT(nsga2, random * 2.0) << "nsga2 " << nsga2 << " random " << random;
}

TEST(SamplerTest, ProposalsDependOnlyOnSeedHistoryAndNumber) {
  const SearchSpace space = SearchSpace::FromSpec(
      ParseConfigText("x: {low: -2.0, high: 2.0}\nc: {choices: [a, b, c]}", "t"), {}, "t");
  for (const std::string& name : BuiltinSamplers().Names()) {
    History h;
    // Parameters are ordered by name: c, then x.
    ASSERT_EQ(space.params()[0].name, "c");
    for (int i = 0; i < 30; ++i) {
      h.points.push_back({static_cast<double>(i % 3), i / 30.0});
      h.scores.push_back({{std::sin(i)}, 0.0});
      h.numbers.push_back(i);
    }
    SuggestRequest r{&space, &h, 30, 5, 0};
    const auto a = BuiltinSamplers().Create(name)->Suggest(r);
    const auto b = BuiltinSamplers().Create(name)->Suggest(r);
    EXPECT_EQ(a, b) << name;
    ASSERT_EQ(a.size(), 2u);
    EXPECT_GE(a[1], 0.0);
    EXPECT_LE(a[1], 1.0);
    EXPECT_TRUE(a[0] == 0 || a[0] == 1 || a[0] == 2) << name << " " << a[0];
  }
}

TEST(SamplerTest, TpeAvoidsTheInfeasibleRegion) {
  // The objective improves towards x = 1, but x > 0.5 misses a threshold: TPE must learn to
  // propose feasible points near 0.5 instead of chasing the infeasible ones.
  const SearchSpace space =
      SearchSpace::FromSpec(ParseConfigText("x: {low: 0.0, high: 1.0}", "t"), {}, "t");
  const auto tpe = BuiltinSamplers().Create("tpe");
  History h;
  int feasible_late = 0;
  for (int t = 0; t < 60; ++t) {
    SuggestRequest r{&space, &h, t, 3, 0};
    const nlohmann::json a = space.Decode(tpe->Suggest(r));
    const double x = a["x"].get<double>();
    h.points.push_back(space.Encode(a));
    h.scores.push_back({{-x}, x > 0.5 ? x - 0.5 : 0.0});
    h.numbers.push_back(t);
    if (t >= 40 && x <= 0.5 && x > 0.35)
      ++feasible_late;
  }
  // Uniform draws would put 3 of these 20 in (0.35, 0.5].
  EXPECT_GE(feasible_late, 8);
}

double Branin(const nlohmann::json& a) {
  const double x = a["x"].get<double>(), y = a["y"].get<double>();
  const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
  return std::pow(y - b * x * x + c * x - 6, 2) + 10 * (1 - t) * std::cos(x) + 10;
}

TEST(GpSamplerTest, FindsBraninsMinimumWithinFortyTrials) {
  // Branin's minimum is 0.397887; random search at 40 trials is typically above 1.
  const SearchSpace space = SearchSpace::FromSpec(
      ParseConfigText("x: {low: -5.0, high: 10.0}\ny: {low: 0.0, high: 15.0}", "t"), {}, "t");
  std::vector<double> best;
  for (uint64_t seed = 1; seed <= 3; ++seed)
    best.push_back(BestAfter("gp", 40, seed, Branin, space));
  std::sort(best.begin(), best.end());
  EXPECT_LT(best[1], 0.41) << best[0] << " " << best[1] << " " << best[2];
}

TEST(GpSamplerTest, AvoidsTheInfeasibleRegion) {
  // As for TPE: the objective improves towards x = 1, x > 0.5 misses a threshold. The
  // probability of feasibility must keep the proposals at the boundary. Medians over seeds:
  // expected improvement still explores now and then, and one seed's count decides nothing.
  const SearchSpace space =
      SearchSpace::FromSpec(ParseConfigText("x: {low: 0.0, high: 1.0}", "t"), {}, "t");
  std::vector<int> feasible_late;
  std::vector<double> best_feasible;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const auto gp = BuiltinSamplers().Create("gp");
    History h;
    feasible_late.push_back(0);
    best_feasible.push_back(0.0);
    for (int t = 0; t < 30; ++t) {
      SuggestRequest r{&space, &h, t, seed, 0};
      const nlohmann::json a = space.Decode(gp->Suggest(r));
      const double x = a["x"].get<double>();
      h.points.push_back(space.Encode(a));
      h.scores.push_back({{-x}, x > 0.5 ? x - 0.5 : 0.0});
      h.numbers.push_back(t);
      if (x <= 0.5)
        best_feasible.back() = std::max(best_feasible.back(), x);
      if (t >= 20 && x <= 0.5 && x > 0.35)
        ++feasible_late.back();
    }
  }
  std::sort(feasible_late.begin(), feasible_late.end());
  std::sort(best_feasible.begin(), best_feasible.end());
  // Most late proposals are feasible and in (0.35, 0.5] (uniform draws would put 1.5 of 10
  // there); the best creeps up to the boundary (seeds 1-5 now: 7-10
  // of 10, best 0.46-0.50).
  EXPECT_GE(feasible_late[2], 8);
  EXPECT_GT(best_feasible[2], 0.47);
}

TEST(GpSamplerTest, HandlesCategoricalsConditionsPrunedTrialsAndPending) {
  // f depends on a categorical and on a parameter active for one of its choices only; some
  // trials are pruned and some are running. Proposals are valid points, deterministic, and a
  // running trial moves the next proposal away from it.
  const SearchSpace space = SearchSpace::FromSpec(
      ParseConfigText("opt: {choices: [sgd, lamb]}\n"
                      "beta: {low: 0.0, high: 1.0, when: {opt: [lamb]}}\n"
                      "lr: {low: 0.0001, high: 1.0, log: true}",
                      "t"),
      {}, "t");
  auto f = [](const nlohmann::json& a) {
    const double lr = std::log10(a["lr"].get<double>());
    double v = (lr + 2) * (lr + 2);
    if (a["opt"] == "lamb")
      v += std::pow(a["beta"].get<double>() - 0.9, 2) - 0.5;
    return v;
  };
  const auto gp = BuiltinSamplers().Create("gp");
  History h;
  for (int t = 0; t < 25; ++t) {
    SuggestRequest r{&space, &h, t, 9, 0};
    const nlohmann::json a = space.Decode(gp->Suggest(r));
    h.points.push_back(space.Encode(a));
    const bool pruned = t % 7 == 6;
    h.scores.push_back({{pruned ? 0.0 : f(a)}, pruned ? 1e6 : 0.0});
    h.numbers.push_back(t);
    h.pruned.push_back(pruned ? 1 : 0);
  }
  SuggestRequest r{&space, &h, 25, 9, 0};
  const std::vector<double> first = gp->Suggest(r);
  EXPECT_EQ(first, BuiltinSamplers().Create("gp")->Suggest(r));
  h.pending.push_back(space.Encode(space.Decode(first)));
  const std::vector<double> second = gp->Suggest(r);
  EXPECT_NE(space.Decode(first), space.Decode(second));
  double best = INFINITY;
  for (size_t i = 0; i < h.points.size(); ++i)
    if (!h.pruned[i])
      best = std::min(best, h.scores[i].values[0]);
  EXPECT_LT(best, -0.4);  // found lamb, beta near 0.9 and lr near 0.01
}

TEST(GpSamplerTest, TwoObjectivesByParegoSpreadAlongTheFront) {
  // f1 = x, f2 = (1 - x)^2 + y: the front is y = 0. ParEGO's random weights must spread the
  // later proposals along x while pushing y down.
  const SearchSpace space = SearchSpace::FromSpec(
      ParseConfigText("x: {low: 0.0, high: 1.0}\ny: {low: 0.0, high: 1.0}", "t"), {}, "t");
  const auto gp = BuiltinSamplers().Create("gp");
  History h;
  h.objectives = 2;
  double lo_x = 1, hi_x = 0, mean_y = 0;
  for (int t = 0; t < 40; ++t) {
    SuggestRequest r{&space, &h, t, 4, 0};
    const nlohmann::json a = space.Decode(gp->Suggest(r));
    const double x = a["x"].get<double>(), y = a["y"].get<double>();
    h.points.push_back(space.Encode(a));
    h.scores.push_back({{x, (1 - x) * (1 - x) + y}, 0.0});
    h.numbers.push_back(t);
    if (t >= 20) {
      lo_x = std::min(lo_x, x);
      hi_x = std::max(hi_x, x);
      mean_y += y / 20;
    }
  }
  EXPECT_LT(mean_y, 0.1);
  EXPECT_GT(hi_x - lo_x, 0.4);
}

TEST(SamplerTest, UnknownSamplerListsTheValidOnes) {
  try {
    BuiltinSamplers().Create("tpee");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("did you mean 'tpe'"), std::string::npos) << e.what();
  }
}

TEST(SamplerTest, DefaultSaysWhy) {
  EXPECT_EQ(DefaultSampler(8, 1, 3).first, "sobol");
  EXPECT_EQ(DefaultSampler(100, 1, 3).first, "gp");
  EXPECT_EQ(DefaultSampler(kGpMaxTrials + 1, 1, 3).first, "tpe");
  EXPECT_EQ(DefaultSampler(100, 2, 3).first, "tpe");
  EXPECT_EQ(DefaultSampler(1000, 2, 3).first, "nsga2");
  EXPECT_FALSE(DefaultSampler(100, 2, 3).second.empty());
}

}  // namespace
}  // namespace aiok::tune
