#include "aiok/tune/pruner.h"

#include <gtest/gtest.h>

#include <set>

namespace aiok::tune {
namespace {

// A trial whose auc curve rises linearly to `final_auc` over 10 reports; train_seconds grows
// with progress to `seconds`.
TrialRecord Curve(int64_t number, double final_auc, double seconds, int reports = 10) {
  TrialRecord t;
  t.number = number;
  t.state = TrialState::kComplete;
  for (int i = 1; i <= reports; ++i) {
    const double p = i / 10.0;
    t.reports.push_back({i * 100, p,
                         {{"auc", 0.6 + (final_auc - 0.6) * p}, {"train_seconds", seconds * p}}});
  }
  t.values = {final_auc, seconds};
  t.metrics = {{"auc", final_auc}, {"train_seconds", seconds}};
  return t;
}

std::vector<Objective> Obj(size_t n) {
  std::vector<Objective> all = {{"auc", true}, {"train_seconds", false}};
  all.resize(n);
  return all;
}

TEST(PrunerTest, MedianStopsABadTrialAndKeepsAGoodOne) {
  std::vector<TrialRecord> finished;
  for (int i = 0; i < 6; ++i)
    finished.push_back(Curve(i, 0.78 + 0.002 * i, 10));
  const std::vector<Objective> objectives = Obj(1);
  const std::vector<Threshold> thresholds;
  auto median = MakePruner("median");
  TrialRecord bad = Curve(10, 0.70, 10, 4);
  bad.state = TrialState::kRunning;
  EXPECT_TRUE(median->Check({&bad, &finished, &objectives, &thresholds}).prune);
  TrialRecord good = Curve(11, 0.80, 10, 4);
  good.state = TrialState::kRunning;
  EXPECT_FALSE(median->Check({&good, &finished, &objectives, &thresholds}).prune);
  // Too few finished trials: no verdict.
  std::vector<TrialRecord> few(finished.begin(), finished.begin() + 3);
  EXPECT_FALSE(median->Check({&bad, &few, &objectives, &thresholds}).prune);
}

TEST(PrunerTest, AshaDecidesAtRungsOnly) {
  std::vector<TrialRecord> finished;
  for (int i = 0; i < 8; ++i)
    finished.push_back(Curve(i, 0.78 + 0.002 * i, 10));
  const std::vector<Objective> objectives = Obj(1);
  const std::vector<Threshold> thresholds;
  auto asha = MakePruner("asha");
  // Reports at 0.1, 0.2: the rung 1/9 lies between them.
  TrialRecord bad = Curve(10, 0.65, 10, 2);
  EXPECT_TRUE(asha->Check({&bad, &finished, &objectives, &thresholds}).prune);
  TrialRecord between = Curve(11, 0.65, 10, 3);  // 0.2 -> 0.3 crosses no rung
  EXPECT_FALSE(asha->Check({&between, &finished, &objectives, &thresholds}).prune);
  TrialRecord best = Curve(12, 0.85, 10, 2);
  EXPECT_FALSE(asha->Check({&best, &finished, &objectives, &thresholds}).prune);
}

// A trial with reports at progress 1/30, 2/30, ... (n of them), its auc rising to final_auc.
TrialRecord FineCurve(int64_t number, double final_auc, int reports) {
  TrialRecord t;
  t.number = number;
  t.state = TrialState::kComplete;
  for (int i = 1; i <= reports; ++i) {
    const double p = i / 30.0;
    t.reports.push_back({i * 10, p, {{"auc", 0.6 + (final_auc - 0.6) * p}}});
  }
  t.values = {final_auc};
  t.metrics = {{"auc", final_auc}};
  return t;
}

// The first `count` trial numbers from `from` whose Hyperband bracket has `rungs` rungs.
std::vector<int64_t> NumbersInBracket(int rungs, size_t count, int64_t from = 0) {
  std::vector<int64_t> out;
  for (int64_t n = from; out.size() < count; ++n)
    if (HyperbandRungs(n) == rungs)
      out.push_back(n);
  return out;
}

TEST(PrunerTest, HyperbandBracketsHaveHyperbandsProportions) {
  std::vector<int> count(kHyperbandMaxRungs + 1, 0);
  for (int64_t n = 0; n < 49000; ++n)
    ++count[static_cast<size_t>(HyperbandRungs(n))];
  // 4 : 6 : 12 : 27 of every 49 for 0, 1, 2, 3 rungs.
  const double expected[] = {4, 6, 12, 27};
  for (int r = 0; r <= kHyperbandMaxRungs; ++r)
    EXPECT_NEAR(count[r] / 49000.0, expected[r] / 49.0, 0.01) << r << " rungs";
  // Consecutive trials are spread, not blocked.
  std::set<int> first_twenty;
  for (int64_t n = 0; n < 20; ++n)
    first_twenty.insert(HyperbandRungs(n));
  EXPECT_GE(first_twenty.size(), 3u);
}

TEST(PrunerTest, HyperbandComparesWithinTheBracketAtItsOwnRungs) {
  const std::vector<Objective> objectives = Obj(1);
  const std::vector<Threshold> thresholds;
  auto hyperband = MakePruner("hyperband");
  // The aggressive bracket (3 rungs): first rung at 1/27, between reports 1/30 and 2/30.
  const std::vector<int64_t> aggressive = NumbersInBracket(3, 9);
  std::vector<TrialRecord> finished;
  for (size_t i = 0; i < 8; ++i)
    finished.push_back(FineCurve(aggressive[i], 0.78 + 0.002 * static_cast<double>(i), 30));
  TrialRecord bad = FineCurve(aggressive[8], 0.65, 2);
  const PruneDecision d = hyperband->Check({&bad, &finished, &objectives, &thresholds});
  EXPECT_TRUE(d.prune);
  EXPECT_NE(d.reason.find("bracket of 3 rungs"), std::string::npos) << d.reason;
  // ASHA has no rung at 1/27: the same trial goes on.
  EXPECT_FALSE(MakePruner("asha")->Check({&bad, &finished, &objectives, &thresholds}).prune);
  // The same curve in the 1-rung bracket is not judged before 1/3 ...
  const std::vector<int64_t> cautious = NumbersInBracket(1, 9);
  TrialRecord slow_start = FineCurve(cautious[8], 0.65, 2);
  EXPECT_FALSE(hyperband->Check({&slow_start, &finished, &objectives, &thresholds}).prune);
  // ... and at 1/3 only against its own bracket: the aggressive bracket's trials do not count.
  slow_start = FineCurve(cautious[8], 0.65, 10);
  EXPECT_FALSE(hyperband->Check({&slow_start, &finished, &objectives, &thresholds}).prune);
  for (size_t i = 0; i < 8; ++i)
    finished.push_back(FineCurve(cautious[i], 0.78 + 0.002 * static_cast<double>(i), 30));
  EXPECT_TRUE(hyperband->Check({&slow_start, &finished, &objectives, &thresholds}).prune);
  // The no-rung bracket runs everything to the end.
  TrialRecord kept = FineCurve(NumbersInBracket(0, 1)[0], 0.60, 10);
  EXPECT_FALSE(hyperband->Check({&kept, &finished, &objectives, &thresholds}).prune);
}

TEST(PrunerTest, ParetoStopsADominatedProjectionOnly) {
  std::vector<TrialRecord> finished = {Curve(0, 0.80, 10), Curve(1, 0.79, 5), Curve(2, 0.78, 4),
                                       Curve(3, 0.76, 2)};
  const std::vector<Objective> objectives = Obj(2);
  const std::vector<Threshold> none;
  auto pareto = MakePruner("pareto");
  // Slow and poor: projected (0.77, 12 s) is dominated by trial 0 (0.80, 10 s).
  TrialRecord slow = Curve(10, 0.77, 12, 4);
  const PruneDecision d = pareto->Check({&slow, &finished, &objectives, &none});
  EXPECT_TRUE(d.prune);
  EXPECT_NE(d.reason.find("dominated by trial 0"), std::string::npos) << d.reason;
  // Poor but the fastest: on the front, keep it (Optuna cannot prune this case at all).
  TrialRecord fast = Curve(11, 0.70, 1, 4);
  EXPECT_FALSE(pareto->Check({&fast, &finished, &objectives, &none}).prune);
  // A threshold the projection misses stops it too.
  const std::vector<Threshold> floor = {{"auc", true, 0.78}};  // projected ~0.751
  EXPECT_TRUE(pareto->Check({&fast, &finished, &objectives, &floor}).prune);
}

}  // namespace
}  // namespace aiok::tune
