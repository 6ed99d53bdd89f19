#include "aiok/core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "aiok/core/error.h"

namespace aiok {
namespace {

double Auc(const std::vector<float>& scores, const std::vector<uint8_t>& labels) {
  return BinaryAuc(scores.data(), labels.data(), scores.size());
}

// The definition, pair by pair: O(n^2), for checking the fast routine.
double PairwiseAuc(const std::vector<float>& scores, const std::vector<uint8_t>& labels) {
  double wins = 0;
  double pairs = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!labels[i])
      continue;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[j])
        continue;
      pairs += 1;
      wins += scores[i] > scores[j] ? 1.0 : (scores[i] == scores[j] ? 0.5 : 0.0);
    }
  }
  return wins / pairs;
}

TEST(BinaryAuc, PerfectAndReversedRankings) {
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.2f, 0.8f, 0.9f}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(Auc({0.9f, 0.8f, 0.2f, 0.1f}, {0, 0, 1, 1}), 0.0);
}

TEST(BinaryAuc, AllTiedIsOneHalf) {
  EXPECT_DOUBLE_EQ(Auc({0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 1}), 0.5);
}

TEST(BinaryAuc, TiesCountOneHalfByHand) {
  // Positives 0.4 and 0.8 against negatives 0.1 and 0.4: 1 + 0.5 + 1 + 1 = 3.5 of 4 pairs.
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.4f, 0.4f, 0.8f}, {0, 1, 0, 1}), 0.875);
  // One positive tied with two of three negatives, above the third: (1 + 0.5 + 0.5) / 3.
  EXPECT_DOUBLE_EQ(Auc({0.3f, 0.3f, 0.3f, 0.2f}, {1, 0, 0, 0}), 2.0 / 3.0);
}

TEST(BinaryAuc, NegativeScoresAndSignedZeroes) {
  EXPECT_DOUBLE_EQ(Auc({-3.0f, -1.0f, 2.0f}, {0, 1, 1}), 1.0);
  // -0 and +0 are the same score: a tie.
  EXPECT_DOUBLE_EQ(Auc({-0.0f, 0.0f}, {1, 0}), 0.5);
}

TEST(BinaryAuc, OneClassIsUndefined) {
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f}, {1, 1})));
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f}, {0, 0})));
  EXPECT_TRUE(std::isnan(Auc({}, {})));
}

TEST(BinaryAuc, NanScoreIsRejected) { EXPECT_THROW(Auc({0.1f, NAN}, {0, 1}), Error); }

TEST(BinaryAuc, MatchesPairwiseDefinitionWithManyTies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<float> scores(700);
    std::vector<uint8_t> labels(700);
    for (size_t i = 0; i < scores.size(); ++i) {
      // 21 distinct values in [-1, 1]: plenty of ties across classes.
      scores[i] = static_cast<float>(static_cast<int>(rng() % 21) - 10) / 10.0f;
      labels[i] = (rng() % 100) < 30 + 3 * (scores[i] * 10) ? 1 : 0;
    }
    EXPECT_NEAR(Auc(scores, labels), PairwiseAuc(scores, labels), 1e-12);
  }
}

TEST(BinaryLogLoss, HandComputed) {
  const std::vector<float> p = {0.5f, 0.25f};
  const std::vector<uint8_t> y = {1, 0};
  EXPECT_NEAR(BinaryLogLoss(p.data(), y.data(), 2), (std::log(2.0) - std::log(0.75)) / 2, 1e-7);
}

TEST(BinaryLogLoss, ClampsCertainMistakes) {
  const std::vector<float> p = {0.0f};
  const std::vector<uint8_t> y = {1};
  EXPECT_NEAR(BinaryLogLoss(p.data(), y.data(), 1), -std::log(1e-7), 1e-6);
}

TEST(PositiveRate, CountsOnes) {
  const std::vector<uint8_t> y = {1, 0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(PositiveRate(y.data(), y.size()), 0.6);
}

TEST(BinaryAccuracy, ThresholdAtOneHalf) {
  // 0.5 counts as a predicted 1: rows 1 and 3 right, row 2 wrong, row 4 (0.5 vs 0) wrong.
  const std::vector<float> p = {0.9f, 0.7f, 0.1f, 0.5f};
  const std::vector<uint8_t> y = {1, 0, 0, 0};
  EXPECT_DOUBLE_EQ(BinaryAccuracy(p.data(), y.data(), 4), 0.5);
  EXPECT_TRUE(std::isnan(BinaryAccuracy(p.data(), y.data(), 0)));
}

TEST(RegressionMetrics, RmseAndMaeByHand) {
  // Errors 1, -2, 0, 3: squares 1 + 4 + 0 + 9 = 14, absolutes 1 + 2 + 0 + 3 = 6.
  const std::vector<float> prediction = {2.0f, 1.0f, 5.0f, -1.0f};
  const std::vector<float> target = {1.0f, 3.0f, 5.0f, -4.0f};
  EXPECT_DOUBLE_EQ(RootMeanSquaredError(prediction.data(), target.data(), 4), std::sqrt(14.0 / 4));
  EXPECT_DOUBLE_EQ(MeanAbsoluteError(prediction.data(), target.data(), 4), 1.5);
  EXPECT_DOUBLE_EQ(RootMeanSquaredError(target.data(), target.data(), 4), 0.0);
  EXPECT_TRUE(std::isnan(RootMeanSquaredError(target.data(), target.data(), 0)));
  EXPECT_TRUE(std::isnan(MeanAbsoluteError(target.data(), target.data(), 0)));
}

}  // namespace
}  // namespace aiok
