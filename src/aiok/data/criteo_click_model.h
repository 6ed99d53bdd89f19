// The hidden model behind `aiok datagen criteo`: how each row's features are drawn and how its
// true click probability follows from them. Everything is a pure function of (seed, row), so
// any row can be made on any thread in any order.
//
// logit(row) = intercept
//            + sum over categorical columns of a per-value effect (missing: a per-column effect)
//            + sum over 6 column pairs of <u_a(value_a), u_b(value_b)>, rank-4 factors
//            + sum over integer columns of a smooth function of log1p(value) (missing: an effect)
// The intercept is solved so that the mean probability is the requested positive rate.
#pragma once

#include <array>
#include <cstdint>

#include "aiok/data/criteo_layout.h"

namespace aiok::data {

/// One generated row before formatting.
struct CriteoRow {
  std::array<int64_t, kCriteoDense> dense{};
  std::array<bool, kCriteoDense> dense_missing{};
  std::array<uint32_t, kCriteoCategorical> category{};  ///< the 32-bit value written as hex
  std::array<bool, kCriteoCategorical> category_missing{};
  double logit = 0.0;        ///< true logit, intercept included
  float probability = 0.0f;  ///< sigmoid(logit), as written to truth.f32
  uint8_t label = 0;         ///< a Bernoulli(probability) draw
};

class CriteoClickModel {
 public:
  /// `card_scale` multiplies Kaggle's cardinalities; `positive_rate` is the target mean
  /// probability, reached by solving the intercept on a sample of rows of a `rows`-row file.
  CriteoClickModel(uint64_t seed, double card_scale, double positive_rate, int64_t rows);

  /// Draws row `row`'s features, its true logit and probability, and its label.
  void MakeRow(int64_t row, CriteoRow* out) const;

  int64_t cardinality(int column) const { return cardinality_[column]; }
  double intercept() const { return intercept_; }

  /// Number of rank-4 interaction pairs and the columns of pair `i`.
  static constexpr int kPairs = 6;
  static constexpr int kFactorRank = 4;
  static std::array<int, 2> PairColumns(int pair);

 private:
  double Score(int64_t row, CriteoRow* out) const;  // logit without the intercept

  uint64_t seed_;
  std::array<int64_t, kCriteoCategorical> cardinality_{};
  std::array<double, kCriteoCategorical> zipf_a_{};    // (N+1)^(1-s) - 1
  std::array<double, kCriteoCategorical> zipf_inv_{};  // 1 / (1-s)
  std::array<uint32_t, kCriteoCategorical> value_key_{};
  std::array<double, kCriteoCategorical> missing_effect_cat_{};
  std::array<double, kCriteoDense> missing_effect_dense_{};
  std::array<double, kCriteoDense> dense_centre_{};
  double intercept_ = 0.0;
};

}  // namespace aiok::data
