#include "aiok/tune/report.h"

#include <gtest/gtest.h>

namespace aiok::tune {
namespace {

TrialRecord Trial(int64_t number, std::vector<double> values,
                  TrialState state = TrialState::kComplete, double violation = 0.0) {
  TrialRecord t;
  t.number = number;
  t.state = state;
  t.values = std::move(values);
  t.violation = violation;
  return t;
}

TEST(ChooseTrialTest, OneObjectiveTakesTheBest) {
  StudyView view;
  view.objectives = ParseObjectives("auc:max");
  view.trials = {Trial(0, {0.70}), Trial(1, {0.74}), Trial(2, {0.80}, TrialState::kPruned),
                 Trial(3, {0.73})};
  ASSERT_NE(ChooseTrial(view, 0.01), nullptr);
  EXPECT_EQ(ChooseTrial(view, 0.01)->number, 1);  // a pruned trial's values do not count
  view.trials = {Trial(0, {0.70}, TrialState::kFailed)};
  EXPECT_EQ(ChooseTrial(view, 0.01), nullptr);
}

TEST(ChooseTrialTest, TwoObjectivesTakeTheFastestWithinTheTolerance) {
  StudyView view;
  view.objectives = ParseObjectives("auc:max,train_seconds:min");
  view.trials = {Trial(0, {0.7800, 40}), Trial(1, {0.7795, 12}), Trial(2, {0.7700, 3}),
                 Trial(3, {0.7792, 12}), Trial(4, {0.7900, 1}, TrialState::kComplete, 0.5)};
  // Trial 4 misses a threshold; trial 2 gives up 0.01 AUC; 1 and 3 tie on time, 1 has more AUC.
  EXPECT_EQ(ChooseTrial(view, 0.001)->number, 1);
  EXPECT_EQ(ChooseTrial(view, 0.0)->number, 0);
  EXPECT_EQ(ChooseTrial(view, 0.02)->number, 2);
}

}  // namespace
}  // namespace aiok::tune
