#include "aiok/data/generator.h"

#include <gtest/gtest.h>

#include <cmath>

namespace aiok::data {
namespace {

double MeanProbability(int64_t rows, double intercept,
                       const std::function<double(int64_t)>& score) {
  double mean = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    mean += 1.0 / (1.0 + std::exp(-(intercept + score(r))));
  return mean / static_cast<double>(rows);
}

TEST(SolveInterceptTest, ReachesTheRateOnSpreadScores) {
  auto score = [](int64_t r) { return std::sin(static_cast<double>(r)) * 2.0; };
  const double b = SolveIntercept(5000, 0.25, score);
  EXPECT_NEAR(MeanProbability(5000, b, score), 0.25, 1e-9);
}

// One score repeated (a data set of one item in one category): plain Newton from
// logit(rate) overshoots into the sigmoid's flat tails and diverged to -2.5e11.
TEST(SolveInterceptTest, ConvergesWhenEveryScoreIsTheSame) {
  for (const double s : {3.4, -6.0, 12.0}) {
    for (const double rate : {0.01, 0.25, 0.9}) {
      auto score = [s](int64_t) { return s; };
      const double b = SolveIntercept(2, rate, score);
      EXPECT_NEAR(MeanProbability(2, b, score), rate, 1e-9) << "score " << s << ", rate " << rate;
    }
  }
}

// Two far-apart clusters of scores: the mean is a staircase in the intercept.
TEST(SolveInterceptTest, ConvergesOnClusteredScores) {
  auto score = [](int64_t r) { return r % 2 == 0 ? -20.0 : 20.0; };
  for (const double rate : {0.1, 0.5, 0.7}) {
    const double b = SolveIntercept(100, rate, score);
    EXPECT_NEAR(MeanProbability(100, b, score), rate, 1e-9) << rate;
  }
}

}  // namespace
}  // namespace aiok::data
