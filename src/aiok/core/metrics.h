// Metrics of predictions against labels: binary classification (AUC, logloss, accuracy) and
// regression (RMSE, MAE). They live in core because both the data generators (the
// Bayes-optimal AUC of a generated file) and training use them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aiok {

/// Exact ROC AUC: the probability that a random positive scores above a random negative, ties
/// counting one half. Labels are 0 or 1. Returns NaN when either class is absent. Throws
/// Error(kInvalidInput) on a NaN score. O(n) memory, radix sort: fast on tens of millions.
double BinaryAuc(const float* scores, const uint8_t* labels, size_t n);

/// Mean negative log-likelihood of labels under probabilities, clamped to [1e-7, 1 - 1e-7].
double BinaryLogLoss(const float* probabilities, const uint8_t* labels, size_t n);

/// Fraction of rows with label 1.
double PositiveRate(const uint8_t* labels, size_t n);

/// Fraction of rows whose probability is on the label's side of 0.5 (>= 0.5 counts as 1).
/// NaN when n is 0.
double BinaryAccuracy(const float* probabilities, const uint8_t* labels, size_t n);

/// Root mean squared error of predictions against targets, summed in double. NaN when n is 0.
double RootMeanSquaredError(const float* predictions, const float* targets, size_t n);

/// Mean absolute error of predictions against targets, summed in double. NaN when n is 0.
double MeanAbsoluteError(const float* predictions, const float* targets, size_t n);

}  // namespace aiok
