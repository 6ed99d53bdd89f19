#include "aiok/train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "aiok/core/error.h"
#include "aiok/train/schedule.h"

namespace aiok::train {
namespace {

// One parameter w = [3, -4] with gradient g = [1, 2] (a loss of g . w).
struct Problem {
  // float64, so that hand computations in double compare tightly.
  torch::Tensor w = torch::tensor({3.0, -4.0}, torch::dtype(torch::kFloat64).requires_grad(true));
  void Backward() {
    if (w.grad().defined())
      w.mutable_grad().zero_();
    (torch::tensor({1.0, 2.0}, torch::kFloat64) * w).sum().backward();
  }
};

std::vector<double> Values(const torch::Tensor& t) {
  return {t[0].item<double>(), t[1].item<double>()};
}

std::vector<double> TwoSteps(OptimizerOptions options) {
  Problem problem;
  auto optimizer = DenseOptimizer::Create(options, {problem.w});
  for (int step = 0; step < 2; ++step) {
    problem.Backward();
    optimizer->Step();
  }
  return Values(problem.w);
}

TEST(DenseOptimizer, SgdByHand) {
  OptimizerOptions o;
  o.name = "sgd";
  o.lr = 0.1;
  const auto w = TwoSteps(o);  // w - 2 * 0.1 * g
  EXPECT_NEAR(w[0], 2.8, 1e-12);
  EXPECT_NEAR(w[1], -4.4, 1e-12);
}

TEST(DenseOptimizer, AdagradByHand) {
  OptimizerOptions o;
  o.name = "adagrad";
  o.lr = 0.1;
  const auto w = TwoSteps(o);
  // Step 1: s = g^2, w -= lr * g / |g| = lr * sign(g). Step 2: s = 2 g^2, w -= lr / sqrt(2).
  EXPECT_NEAR(w[0], 3.0 - 0.1 - 0.1 / std::sqrt(2.0), 1e-8);
  EXPECT_NEAR(w[1], -4.0 - 0.1 - 0.1 / std::sqrt(2.0), 1e-8);
}

TEST(DenseOptimizer, AdamByHand) {
  OptimizerOptions o;
  o.name = "adam";
  o.lr = 0.1;
  const auto w = TwoSteps(o);
  // With a constant gradient, bias-corrected m / sqrt(v) = g / |g| at every step.
  EXPECT_NEAR(w[0], 3.0 - 0.2, 1e-6);
  EXPECT_NEAR(w[1], -4.0 - 0.2, 1e-6);
}

TEST(DenseOptimizer, LambByHand) {
  OptimizerOptions o;
  o.name = "lamb";
  o.lr = 0.1;
  o.weight_decay = 0.01;
  Problem problem;
  auto optimizer = DenseOptimizer::Create(o, {problem.w});
  std::vector<double> w = {3.0, -4.0};
  const std::vector<double> g = {1.0, 2.0};
  std::vector<double> m = {0, 0}, v = {0, 0};
  for (int step = 1; step <= 3; ++step) {
    problem.Backward();
    optimizer->Step();
    // By hand, in doubles.
    std::vector<double> update(2);
    double w_norm = 0, u_norm = 0;
    for (int i = 0; i < 2; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(0.9, step));
      const double v_hat = v[i] / (1 - std::pow(0.999, step));
      update[i] = m_hat / (std::sqrt(v_hat) + 1e-8) + 0.01 * w[i];
      w_norm += w[i] * w[i];
      u_norm += update[i] * update[i];
    }
    const double trust = std::sqrt(w_norm) / std::sqrt(u_norm);
    for (int i = 0; i < 2; ++i)
      w[i] -= 0.1 * trust * update[i];
    const auto got = Values(problem.w);
    EXPECT_NEAR(got[0], w[0], 1e-9) << "step " << step;
    EXPECT_NEAR(got[1], w[1], 1e-9) << "step " << step;
  }
}

TEST(DenseOptimizer, SetLrAndStateRoundTrip) {
  OptimizerOptions o;
  o.name = "lamb";
  Problem a;
  auto first = DenseOptimizer::Create(o, {a.w});
  a.Backward();
  first->Step();
  torch::serialize::OutputArchive out;
  first->Save(out);
  std::stringstream buffer;
  out.save_to(buffer);
  // A second optimizer loaded from the first's state takes the same next step.
  Problem b;
  {
    torch::NoGradGuard no_grad;
    b.w.copy_(a.w);
  }
  auto second = DenseOptimizer::Create(o, {b.w});
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  second->Load(in);
  a.Backward();
  first->Step();
  b.Backward();
  second->Step();
  EXPECT_TRUE(torch::equal(a.w, b.w));
  o.name = "sgd";
  Problem c;
  auto sgd = DenseOptimizer::Create(o, {c.w});
  sgd->SetLr(1.0);
  c.Backward();
  sgd->Step();
  EXPECT_NEAR(Values(c.w)[0], 2.0, 1e-12);
  o.name = "rmsprop";
  EXPECT_THROW(DenseOptimizer::Create(o, {c.w}), Error);
}

TEST(Schedule, WarmupThenDecay) {
  ScheduleOptions s;
  s.warmup_steps = 4;
  s.decay = "linear";
  s.total_steps = 14;
  s.final_factor = 0.1;
  EXPECT_DOUBLE_EQ(LearningRateFactor(s, 0), 0.25);
  EXPECT_DOUBLE_EQ(LearningRateFactor(s, 3), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateFactor(s, 4), 1.0);
  EXPECT_NEAR(LearningRateFactor(s, 9), 0.1 + 0.9 * 0.5, 1e-12);
  EXPECT_NEAR(LearningRateFactor(s, 14), 0.1, 1e-12);
  EXPECT_NEAR(LearningRateFactor(s, 100), 0.1, 1e-12);
  s.decay = "cosine";
  EXPECT_NEAR(LearningRateFactor(s, 9), 0.1 + 0.9 * 0.5, 1e-12);
  s.decay = "none";
  EXPECT_DOUBLE_EQ(LearningRateFactor(s, 50), 1.0);
  s.decay = "step";
  EXPECT_THROW(LearningRateFactor(s, 5), Error);
}

}  // namespace
}  // namespace aiok::train
