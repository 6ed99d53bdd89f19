#include "aiok/tune/gaussian_process.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <utility>

#include "aiok/core/error.h"

namespace aiok::tune {
namespace {

constexpr double kSqrt5 = 2.23606797749979;
constexpr double kLog2Pi = 1.8378770664093453;

// In-place lower Cholesky of the row-major n x n matrix a; false if it is not positive definite.
bool Cholesky(std::vector<double>& a, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (size_t k = 0; k < j; ++k)
      d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0.0))
      return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (size_t k = 0; k < j; ++k)
        s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
    for (size_t k = j + 1; k < n; ++k)
      a[j * n + k] = 0.0;
  }
  return true;
}

// Solves L z = b in place (L lower, row-major).
void SolveLower(const std::vector<double>& l, size_t n, std::vector<double>& b) {
  for (size_t i = 0; i < n; ++i) {
    double s = b[i];
    for (size_t k = 0; k < i; ++k)
      s -= l[i * n + k] * b[k];
    b[i] = s / l[i * n + i];
  }
}

// Solves L^T z = b in place.
void SolveUpper(const std::vector<double>& l, size_t n, std::vector<double>& b) {
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k)
      s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

// Squared scaled distance r^2 between two rows.
double ScaledDistance2(const std::vector<double>& a, const std::vector<double>& b,
                       const std::vector<double>& inv_l2) {
  double r2 = 0.0;
  for (size_t i = 0; i < inv_l2.size(); ++i) {
    const double d = a[i] - b[i];
    r2 += d * d * inv_l2[i];
  }
  return r2;
}

std::vector<double> InverseSquaredLengthscales(const std::vector<double>& theta, size_t d) {
  std::vector<double> inv(d);
  for (size_t i = 0; i < d; ++i)
    inv[i] = std::exp(-2.0 * theta[i]);
  return inv;
}

// K + noise I of the rows, before factoring.
std::vector<double> Covariance(const std::vector<std::vector<double>>& x,
                               const std::vector<double>& theta) {
  const size_t n = x.size();
  std::vector<double> k(n * n);
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b <= a; ++b)
      k[a * n + b] = k[b * n + a] = GaussianProcess::Kernel(x[a], x[b], theta);
  const double noise = std::exp(theta.back());
  for (size_t a = 0; a < n; ++a)
    k[a * n + a] += noise;
  return k;
}

// Factors K + noise, adding jitter if rounding broke positive definiteness.
bool Factor(const std::vector<std::vector<double>>& x, const std::vector<double>& theta,
            std::vector<double>* chol) {
  const size_t n = x.size();
  const std::vector<double> k = Covariance(x, theta);
  double jitter = 0.0;
  for (int tries = 0; tries < 6; ++tries) {
    *chol = k;
    for (size_t a = 0; a < n; ++a)
      (*chol)[a * n + a] += jitter;
    if (Cholesky(*chol, n))
      return true;
    jitter = jitter == 0.0 ? 1e-10 * std::exp(theta[theta.size() - 2]) : jitter * 100.0;
  }
  return false;
}

// Limited-memory BFGS with a backtracking (Armijo) line search; minimizes f from x.
void MinimizeLbfgs(const std::function<double(const std::vector<double>&, std::vector<double>*)>& f,
                   std::vector<double>& x, int max_iterations) {
  constexpr size_t kMemory = 6;
  const size_t n = x.size();
  std::vector<double> g(n), g_new(n), x_new(n), dir(n);
  double fx = f(x, &g);
  if (!std::isfinite(fx))
    return;
  std::deque<std::pair<std::vector<double>, std::vector<double>>> history;  // (s, y)
  for (int it = 0; it < max_iterations; ++it) {
    double gmax = 0.0;
    for (double v : g)
      gmax = std::max(gmax, std::fabs(v));
    if (gmax < 1e-6)
      break;
    // Two-loop recursion: dir = -H g.
    dir = g;
    std::vector<double> alphas(history.size());
    for (size_t m = history.size(); m-- > 0;) {
      const auto& [s, y] = history[m];
      double sy = 0, sd = 0;
      for (size_t i = 0; i < n; ++i) {
        sy += s[i] * y[i];
        sd += s[i] * dir[i];
      }
      alphas[m] = sd / sy;
      for (size_t i = 0; i < n; ++i)
        dir[i] -= alphas[m] * y[i];
    }
    double scale = 1.0 / std::max(1.0, gmax);  // first step: at most 1 in any coordinate
    if (!history.empty()) {
      const auto& [s, y] = history.back();
      double sy = 0, yy = 0;
      for (size_t i = 0; i < n; ++i) {
        sy += s[i] * y[i];
        yy += y[i] * y[i];
      }
      scale = sy / yy;
    }
    for (double& v : dir)
      v *= scale;
    for (size_t m = 0; m < history.size(); ++m) {
      const auto& [s, y] = history[m];
      double sy = 0, yd = 0;
      for (size_t i = 0; i < n; ++i) {
        sy += s[i] * y[i];
        yd += y[i] * dir[i];
      }
      const double beta = yd / sy;
      for (size_t i = 0; i < n; ++i)
        dir[i] += s[i] * (alphas[m] - beta);
    }
    for (double& v : dir)
      v = -v;
    double slope = 0.0;
    for (size_t i = 0; i < n; ++i)
      slope += g[i] * dir[i];
    if (!(slope < 0.0)) {  // not a descent direction: restart from steepest descent
      history.clear();
      for (size_t i = 0; i < n; ++i)
        dir[i] = -g[i] / std::max(1.0, gmax);
      slope = 0.0;
      for (size_t i = 0; i < n; ++i)
        slope += g[i] * dir[i];
    }
    double step = 1.0, f_new = 0.0;
    bool accepted = false;
    for (int ls = 0; ls < 30; ++ls, step *= 0.5) {
      for (size_t i = 0; i < n; ++i)
        x_new[i] = x[i] + step * dir[i];
      f_new = f(x_new, &g_new);
      if (std::isfinite(f_new) && f_new <= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted)
      break;
    std::vector<double> s(n), y(n);
    double sy = 0.0;
    for (size_t i = 0; i < n; ++i) {
      s[i] = x_new[i] - x[i];
      y[i] = g_new[i] - g[i];
      sy += s[i] * y[i];
    }
    if (sy > 1e-12) {
      history.emplace_back(std::move(s), std::move(y));
      if (history.size() > kMemory)
        history.pop_front();
    }
    const bool converged = fx - f_new < 1e-9 * (1.0 + std::fabs(fx));
    x = x_new;
    g = g_new;
    fx = f_new;
    if (converged)
      break;
  }
}

double Sigmoid(double u) { return 1.0 / (1.0 + std::exp(-u)); }

}  // namespace

double GaussianProcess::Kernel(const std::vector<double>& a, const std::vector<double>& b,
                               const std::vector<double>& theta) {
  const size_t d = theta.size() - 2;
  double r2 = 0.0;
  for (size_t i = 0; i < d; ++i) {
    const double diff = (a[i] - b[i]) * std::exp(-theta[i]);
    r2 += diff * diff;
  }
  const double r = std::sqrt(r2);
  return std::exp(theta[d]) * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r2) * std::exp(-kSqrt5 * r);
}

GaussianProcess::GaussianProcess(std::vector<std::vector<double>> x, std::vector<double> y,
                                 std::vector<double> theta)
    : x_(std::move(x)), theta_(std::move(theta)) {
  const size_t n = x_.size();
  AIOK_ASSERT(y.size() == n);
  if (!Factor(x_, theta_, &chol_))
    Throw(ErrorKind::kInternal,
          "GP: the covariance of {} points is not positive definite even with jitter", n);
  alpha_ = std::move(y);
  SolveLower(chol_, n, alpha_);
  SolveUpper(chol_, n, alpha_);
}

double GaussianProcess::LogMarginalLikelihood(const std::vector<std::vector<double>>& x,
                                              const std::vector<double>& y,
                                              const std::vector<double>& theta,
                                              std::vector<double>* grad) {
  const size_t n = x.size();
  const size_t d = theta.size() - 2;
  std::vector<double> l;
  if (!Factor(x, theta, &l))
    return -std::numeric_limits<double>::infinity();
  std::vector<double> alpha = y;
  SolveLower(l, n, alpha);
  double fit = 0.0;
  for (double v : alpha)
    fit += v * v;  // y^T K^-1 y = |L^-1 y|^2
  SolveUpper(l, n, alpha);
  double log_det = 0.0;
  for (size_t i = 0; i < n; ++i)
    log_det += 2.0 * std::log(l[i * n + i]);
  const double value = -0.5 * fit - 0.5 * log_det - 0.5 * static_cast<double>(n) * kLog2Pi;
  if (grad == nullptr)
    return value;

  // dL/dtheta_j = 1/2 tr(W dK/dtheta_j) with W = alpha alpha^T - K^-1.
  std::vector<double> inv(n * n, 0.0);  // K^-1 column by column
  for (size_t c = 0; c < n; ++c) {
    std::vector<double> e(n, 0.0);
    e[c] = 1.0;
    SolveLower(l, n, e);
    SolveUpper(l, n, e);
    for (size_t r = 0; r < n; ++r)
      inv[r * n + c] = e[r];
  }
  grad->assign(d + 2, 0.0);
  const double signal = std::exp(theta[d]);
  const double noise = std::exp(theta[d + 1]);
  const std::vector<double> inv_l2 = InverseSquaredLengthscales(theta, d);
  double trace_w = 0.0;
  for (size_t a = 0; a < n; ++a) {
    const double w_aa = alpha[a] * alpha[a] - inv[a * n + a];
    trace_w += w_aa;
    (*grad)[d] += 0.5 * w_aa * signal;  // k(x, x) = signal
    for (size_t b = 0; b < a; ++b) {
      const double w = alpha[a] * alpha[b] - inv[a * n + b];
      const double r2 = ScaledDistance2(x[a], x[b], inv_l2);
      const double r = std::sqrt(r2);
      const double e = std::exp(-kSqrt5 * r);
      const double k = signal * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r2) * e;
      (*grad)[d] += w * k;  // both triangles, times 1/2
      // dk/dlog l_i = 5/3 signal (1 + sqrt5 r) e^{-sqrt5 r} (a_i - b_i)^2 / l_i^2.
      const double common = w * 5.0 / 3.0 * signal * (1.0 + kSqrt5 * r) * e;
      for (size_t i = 0; i < d; ++i) {
        const double diff = x[a][i] - x[b][i];
        (*grad)[i] += common * diff * diff * inv_l2[i];
      }
    }
  }
  (*grad)[d + 1] = 0.5 * trace_w * noise;
  return value;
}

GaussianProcess GaussianProcess::Fit(std::vector<std::vector<double>> x, std::vector<double> y,
                                     std::mt19937_64& rng, int restarts, const GpBounds& bounds) {
  AIOK_ASSERT(!x.empty());
  const size_t d = x.front().size();
  // BoTorch's log-normal priors (Hvarfner et al. 2024): LogNormal(sqrt 2 + log(d) / 2, sqrt 3)
  // on each lengthscale and LogNormal(-4, 1) on the noise variance; the signal variance
  // around 1, as the targets are standardized. BoTorch takes a log-normal density on the
  // value itself, which carries the Jacobian 1 / value: on theta = log(value), where this fit
  // works, that is a normal whose mean is shifted by -sd^2, so the mode is at mean - sd^2 (a
  // lengthscale of 0.5 in 6-D, not 10). A normal on theta without the shift (an earlier
  // version) pulled lengthscales ~20 times too long: smooth models that explored broadly,
  // and Hartmann6 took 56 trials to reach Optuna's best-at-100 instead of 34
  // (docs/BENCHMARKS.md).
  std::vector<double> prior_mean(d + 2), prior_sd(d + 2), lo(d + 2), hi(d + 2);
  for (size_t i = 0; i < d; ++i) {
    prior_sd[i] = std::sqrt(3.0);
    prior_mean[i] =
        std::sqrt(2.0) + 0.5 * std::log(static_cast<double>(d)) - prior_sd[i] * prior_sd[i];
    lo[i] = std::log(bounds.min_lengthscale);
    hi[i] = std::log(bounds.max_lengthscale);
  }
  prior_mean[d] = 0.0;
  prior_sd[d] = 1.0;
  lo[d] = std::log(bounds.min_signal);
  hi[d] = std::log(bounds.max_signal);
  prior_sd[d + 1] = 1.0;
  prior_mean[d + 1] = -4.0 - prior_sd[d + 1] * prior_sd[d + 1];
  lo[d + 1] = std::log(bounds.min_noise);
  hi[d + 1] = std::log(bounds.max_noise);

  // Unconstrained u -> theta = lo + (hi - lo) sigmoid(u).
  auto to_theta = [&](const std::vector<double>& u) {
    std::vector<double> theta(d + 2);
    for (size_t i = 0; i < d + 2; ++i)
      theta[i] = lo[i] + (hi[i] - lo[i]) * Sigmoid(u[i]);
    return theta;
  };
  auto to_u = [&](const std::vector<double>& theta) {
    std::vector<double> u(d + 2);
    for (size_t i = 0; i < d + 2; ++i) {
      const double p = std::clamp((theta[i] - lo[i]) / (hi[i] - lo[i]), 1e-6, 1 - 1e-6);
      u[i] = std::log(p / (1 - p));
    }
    return u;
  };
  auto objective = [&](const std::vector<double>& u, std::vector<double>* grad_u) {
    const std::vector<double> theta = to_theta(u);
    std::vector<double> grad;
    double value = LogMarginalLikelihood(x, y, theta, &grad);
    if (!std::isfinite(value))
      return std::numeric_limits<double>::infinity();
    grad_u->resize(d + 2);
    for (size_t i = 0; i < d + 2; ++i) {
      const double z = (theta[i] - prior_mean[i]) / prior_sd[i];
      value -= 0.5 * z * z;
      const double dtheta = grad[i] - z / prior_sd[i];
      const double s = Sigmoid(u[i]);
      (*grad_u)[i] = -dtheta * (hi[i] - lo[i]) * s * (1 - s);
    }
    return -value;
  };

  std::vector<double> best_theta;
  double best = std::numeric_limits<double>::infinity();
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int start = 0; start < std::max(1, restarts); ++start) {
    std::vector<double> theta0(d + 2);
    for (size_t i = 0; i < d + 2; ++i)
      theta0[i] = std::clamp(prior_mean[i] + (start == 0 ? 0.0 : prior_sd[i] * normal(rng)),
                             lo[i] + 1e-3, hi[i] - 1e-3);
    std::vector<double> u = to_u(theta0);
    MinimizeLbfgs(objective, u, 100);
    std::vector<double> unused;
    const double value = objective(u, &unused);
    if (value < best || best_theta.empty()) {
      best = value;
      best_theta = to_theta(u);
    }
  }
  return GaussianProcess(std::move(x), std::move(y), std::move(best_theta));
}

void GaussianProcess::Predict(const std::vector<double>& x, double* mean, double* variance) const {
  const size_t n = x_.size();
  std::vector<double> k(n);
  double m = 0.0;
  for (size_t i = 0; i < n; ++i) {
    k[i] = Kernel(x, x_[i], theta_);
    m += k[i] * alpha_[i];
  }
  SolveLower(chol_, n, k);
  double explained = 0.0;
  for (double v : k)
    explained += v * v;
  *mean = m;
  *variance = std::max(std::exp(theta_[theta_.size() - 2]) - explained, 1e-12);
}

double LogNormalCdf(double z) {
  if (z > -30.0)
    return std::log(0.5 * std::erfc(-z / std::sqrt(2.0)));
  // Mills ratio: Phi(z) ~ phi(z) / -z (1 - 1/z^2 + 3/z^4).
  const double z2 = z * z;
  return -0.5 * z2 - 0.5 * kLog2Pi - std::log(-z) + std::log1p(-1.0 / z2 + 3.0 / (z2 * z2));
}

double LogExpectedImprovement(double mean, double sd, double best) {
  const double z = (best - mean) / sd;
  const double log_phi = -0.5 * z * z - 0.5 * kLog2Pi;
  double log_h;
  if (z > -25.0) {
    // h(z) = phi(z) + z Phi(z); the cancellation costs at most ~1e-13 relative error here.
    const double h = std::exp(log_phi) + z * 0.5 * std::erfc(-z / std::sqrt(2.0));
    log_h = std::log(std::max(h, std::numeric_limits<double>::min()));
  } else {
    const double z2 = z * z;
    log_h = log_phi - 2.0 * std::log(-z) + std::log1p(-3.0 / z2 + 15.0 / (z2 * z2));
  }
  return std::log(sd) + log_h;
}

}  // namespace aiok::tune
