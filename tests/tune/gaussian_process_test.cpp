#include "aiok/tune/gaussian_process.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace aiok::tune {
namespace {

std::vector<std::vector<double>> RandomRows(size_t n, size_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<std::vector<double>> x(n, std::vector<double>(d));
  for (auto& row : x)
    for (double& v : row)
      v = unit(rng);
  return x;
}

TEST(GaussianProcessTest, GradientMatchesFiniteDifferences) {
  const auto x = RandomRows(25, 3, 1);
  std::vector<double> y;
  for (const auto& r : x)
    y.push_back(std::sin(6 * r[0]) + r[1] * r[1] - 0.3 * r[2]);
  const std::vector<double> theta = {std::log(0.3), std::log(0.8), std::log(2.0), 0.2,
                                     std::log(0.01)};
  std::vector<double> grad;
  GaussianProcess::LogMarginalLikelihood(x, y, theta, &grad);
  ASSERT_EQ(grad.size(), theta.size());
  for (size_t i = 0; i < theta.size(); ++i) {
    std::vector<double> up = theta, down = theta;
    up[i] += 1e-5;
    down[i] -= 1e-5;
    const double numeric = (GaussianProcess::LogMarginalLikelihood(x, y, up, nullptr) -
                            GaussianProcess::LogMarginalLikelihood(x, y, down, nullptr)) /
                           2e-5;
    EXPECT_NEAR(grad[i], numeric, 1e-4 * (1.0 + std::fabs(numeric))) << "theta " << i;
  }
}

TEST(GaussianProcessTest, LikelihoodMatchesTheDenseFormulaInOneDimension) {
  // Two points: the 2x2 determinant and inverse by hand.
  const std::vector<std::vector<double>> x = {{0.1}, {0.4}};
  const std::vector<double> y = {1.0, -0.5};
  const std::vector<double> theta = {std::log(0.5), std::log(1.5), std::log(0.1)};
  const double k12 = GaussianProcess::Kernel(x[0], x[1], theta);
  const double k11 = 1.5 + 0.1;
  const double det = k11 * k11 - k12 * k12;
  const double quad = (k11 * y[0] * y[0] - 2 * k12 * y[0] * y[1] + k11 * y[1] * y[1]) / det;
  const double expected = -0.5 * quad - 0.5 * std::log(det) - std::log(2 * M_PI);
  EXPECT_NEAR(GaussianProcess::LogMarginalLikelihood(x, y, theta, nullptr), expected, 1e-12);
  // Matérn-5/2 at r = 0.3 / 0.5.
  const double r = 0.6;
  EXPECT_NEAR(k12,
              1.5 * (1 + std::sqrt(5.0) * r + 5.0 / 3.0 * r * r) * std::exp(-std::sqrt(5.0) * r),
              1e-14);
}

TEST(GaussianProcessTest, FitLearnsRelevantLengthscalesAndInterpolates) {
  // y depends on the first coordinate only: its lengthscale must come out far shorter than
  // the irrelevant one's, and the posterior mean must predict unseen points.
  const auto x = RandomRows(40, 2, 2);
  std::vector<double> y;
  for (const auto& r : x)
    y.push_back(std::sin(8 * r[0]));
  std::mt19937_64 rng(3);
  const GaussianProcess gp = GaussianProcess::Fit(x, y, rng, 3);
  EXPECT_LT(gp.theta()[0] + 2.0, gp.theta()[1]) << gp.theta()[0] << " " << gp.theta()[1];
  EXPECT_LT(std::exp(gp.theta()[3]), 1e-3);  // noise-free data: little noise
  double max_error = 0.0;
  for (const auto& r : RandomRows(50, 2, 4)) {
    double mean = 0, var = 0;
    gp.Predict(r, &mean, &var);
    max_error = std::max(max_error, std::fabs(mean - std::sin(8 * r[0])));
    EXPECT_GT(var, 0.0);
  }
  EXPECT_LT(max_error, 0.05);
  // At a training point the variance is about the noise.
  double mean = 0, var = 0;
  gp.Predict(x[0], &mean, &var);
  EXPECT_NEAR(mean, y[0], 1e-3);
  EXPECT_LT(var, 1e-3);
}

// A draw of a zero-mean GP with hyperparameters `theta` at rows x: L z with L L^T = K + noise.
std::vector<double> SampleGp(const std::vector<std::vector<double>>& x,
                             const std::vector<double>& theta, uint64_t seed) {
  const size_t n = x.size();
  std::vector<double> l(n * n, 0.0);
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b <= a; ++b) {
      double s =
          GaussianProcess::Kernel(x[a], x[b], theta) + (a == b ? std::exp(theta.back()) : 0.0);
      for (size_t k = 0; k < b; ++k)
        s -= l[a * n + k] * l[b * n + k];
      l[a * n + b] = a == b ? std::sqrt(s) : s / l[b * n + b];
    }
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> z(n), y(n, 0.0);
  for (double& v : z)
    v = normal(rng);
  for (size_t a = 0; a < n; ++a)
    for (size_t k = 0; k <= a; ++k)
      y[a] += l[a * n + k] * z[k];
  return y;
}

TEST(GaussianProcessTest, FitRecoversTheLengthscalesOfAGpDraw) {
  // Data drawn from the model itself, lengthscales 0.15 and 0.6: the fit (with its priors)
  // must find both within a factor of 1.5.
  const std::vector<double> truth = {std::log(0.15), std::log(0.6), 0.0, std::log(1e-4)};
  for (uint64_t seed : {21, 22, 23}) {
    const auto x = RandomRows(80, 2, seed);
    const std::vector<double> y = SampleGp(x, truth, seed + 100);
    std::mt19937_64 rng(seed);
    const GaussianProcess gp = GaussianProcess::Fit(x, y, rng, 3);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_GT(std::exp(gp.theta()[i]), std::exp(truth[i]) / 1.5)
          << "seed " << seed << " dim " << i;
      EXPECT_LT(std::exp(gp.theta()[i]), std::exp(truth[i]) * 1.5)
          << "seed " << seed << " dim " << i;
    }
  }
}

TEST(GaussianProcessTest, WithoutDataTheLengthscalesSitAtBoTorchsPriorMode) {
  // One point says nothing about lengthscales, so the fit ends at the prior's mode: BoTorch's
  // LogNormal(sqrt 2 + log(d) / 2, sqrt 3) taken on the lengthscale has its mode at
  // exp(mu - sigma^2): 0.29 in 2-D, 0.50 in 6-D (the earlier prior, a normal on the log
  // without the Jacobian, put it at 5.8 and 10).
  for (size_t d : {2, 6}) {
    std::mt19937_64 rng(31);
    const GaussianProcess gp = GaussianProcess::Fit(RandomRows(1, d, 32), {0.0}, rng, 3);
    const double mode = std::sqrt(2.0) + 0.5 * std::log(static_cast<double>(d)) - 3.0;
    for (size_t i = 0; i < d; ++i)
      EXPECT_NEAR(gp.theta()[i], mode, 1e-2) << "d " << d << " dim " << i;
  }
}

TEST(GaussianProcessTest, FitFindsTheNoiseOfNoisyData) {
  const auto x = RandomRows(80, 1, 5);
  std::mt19937_64 noise_rng(6);
  std::normal_distribution<double> noise(0.0, 0.3);
  std::vector<double> y;
  for (const auto& r : x)
    y.push_back(std::sin(4 * r[0]) + noise(noise_rng));
  std::mt19937_64 rng(7);
  const GaussianProcess gp = GaussianProcess::Fit(x, y, rng, 3);
  const double noise_sd = std::sqrt(std::exp(gp.theta()[2]));
  EXPECT_GT(noise_sd, 0.15);
  EXPECT_LT(noise_sd, 0.5);
}

TEST(GaussianProcessTest, LogExpectedImprovementIsTheClosedFormAndFiniteInTheTail) {
  auto ei = [](double mean, double sd, double best) {
    const double z = (best - mean) / sd;
    const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
    const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
    return sd * (z * cdf + pdf);
  };
  for (double mean : {-1.0, 0.0, 0.5, 2.0})
    for (double sd : {0.1, 1.0})
      EXPECT_NEAR(LogExpectedImprovement(mean, sd, 0.0), std::log(ei(mean, sd, 0.0)), 1e-9)
          << mean << " " << sd;
  // Far in the tail the plain formula is 0; the log stays finite and monotone.
  double last = 0.0;
  for (double mean : {20.0, 24.9, 25.1, 30.0, 60.0, 200.0}) {
    const double v = LogExpectedImprovement(mean, 1.0, 0.0);
    EXPECT_TRUE(std::isfinite(v)) << mean;
    if (mean > 20.0)
      EXPECT_LT(v, last) << mean;
    last = v;
  }
  // Both sides of the switch to the asymptotic series agree: across it the difference
  // quotient is the slope, d log EI / d mean ~ -z = -25 and d log Phi / dz ~ -z = 30.
  EXPECT_NEAR(
      (LogExpectedImprovement(25.001, 1.0, 0.0) - LogExpectedImprovement(24.999, 1.0, 0.0)) / 0.002,
      -25.0, 0.25);
  EXPECT_NEAR((LogNormalCdf(-29.999) - LogNormalCdf(-30.001)) / 0.002, 30.0, 0.3);
  EXPECT_NEAR(LogNormalCdf(0.0), std::log(0.5), 1e-15);
  EXPECT_TRUE(std::isfinite(LogNormalCdf(-100.0)));
}

}  // namespace
}  // namespace aiok::tune
