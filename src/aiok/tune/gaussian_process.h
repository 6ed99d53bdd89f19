// The Gaussian process behind the GP-BO sampler (gp_sampler.cpp): a zero-mean GP with a
// Matérn-5/2 ARD kernel and Gaussian noise on features in (about) the unit cube, its
// hyperparameters fitted by maximizing the log marginal likelihood plus BoTorch's log-normal
// priors (L-BFGS from a few starts, on log parameters mapped into bounds), and the log expected
// improvement. A small dense Cholesky of its own: a study has at most a few hundred trials.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace aiok::tune {

/// Hyperparameters in log form: theta = [log l_1 .. log l_d, log signal variance,
/// log noise variance].
struct GpBounds {
  double min_lengthscale = 1e-2, max_lengthscale = 1e2;
  double min_signal = 1e-2, max_signal = 1e2;
  double min_noise = 1e-6, max_noise = 1.0;  ///< of standardized targets
};

class GaussianProcess {
 public:
  /// Conditions the GP on rows `x` (n x d) and targets `y` (standardized by the caller) with
  /// fixed hyperparameters `theta` (size d + 2).
  GaussianProcess(std::vector<std::vector<double>> x, std::vector<double> y,
                  std::vector<double> theta);

  /// Fits theta by maximizing LogMarginalLikelihood + log prior from `restarts` starts (the
  /// prior's mode, then draws from the prior by `rng`) and conditions on the data.
  static GaussianProcess Fit(std::vector<std::vector<double>> x, std::vector<double> y,
                             std::mt19937_64& rng, int restarts = 3, const GpBounds& bounds = {});

  /// log p(y | x, theta), and its gradient with respect to theta in *grad (if not null).
  static double LogMarginalLikelihood(const std::vector<std::vector<double>>& x,
                                      const std::vector<double>& y,
                                      const std::vector<double>& theta, std::vector<double>* grad);

  /// Matérn-5/2 ARD covariance (without noise) of two rows.
  static double Kernel(const std::vector<double>& a, const std::vector<double>& b,
                       const std::vector<double>& theta);

  /// Posterior mean and variance of the latent function at `x` (variance floored at 1e-12).
  void Predict(const std::vector<double>& x, double* mean, double* variance) const;

  const std::vector<double>& theta() const { return theta_; }
  const std::vector<std::vector<double>>& x() const { return x_; }

 private:
  std::vector<std::vector<double>> x_;
  std::vector<double> theta_;
  std::vector<double> chol_;   ///< lower Cholesky factor of K + noise, row-major n x n
  std::vector<double> alpha_;  ///< (K + noise)^-1 y
};

/// log E[max(best - f, 0)] for f ~ N(mean, sd^2) (minimization), accurate far into the tail
/// where the plain formula underflows.
double LogExpectedImprovement(double mean, double sd, double best);
/// log P(N(0,1) <= z), accurate for very negative z.
double LogNormalCdf(double z);

}  // namespace aiok::tune
