// The hidden model behind `aiok datagen tabular`: how each row of mixed.csv is drawn and how
// its true click probability follows from what the row shows. Everything is a pure function
// of (seed, row), so any row can be made on any thread in any order, and the probability
// depends only on the row's visible fields: a model that learned them all would reach the
// Bayes-optimal AUC.
//
// logit(row) = intercept + scale * (
//     price:   a falling slope in log(price) and a bump at cheap items (~10)
//   + age:     a step below 25 and a dip in middle age
//   + score:   tanh(score) and a step above 2.5
//   + city, device, user, big_id: a per-value effect each (users and ids repeat, Zipf-like)
//   + city x device: a per-pair effect
//   + genres:  the sum of per-genre effects, and per-genre slopes in age (age x genre)
//   + ts:      an hour-of-day wave (peak at 20:00) and a weekday effect (weekends up)
//   + missing: a fixed effect for each column's empty field, in place of the value's effect)
// The intercept is solved so that the mean probability is the requested positive rate.
#pragma once

#include <array>
#include <cstdint>

#include "aiok/data/tabular_layout.h"

namespace aiok::data {

/// One generated row before formatting. Numbers are kept in the units they are written in,
/// so the text holds exactly the values the probability was computed from.
struct TabularRow {
  int64_t price_cents = 0;  ///< price = price_cents / 100
  int64_t age = 0;
  int64_t score_milli = 0;  ///< score = score_milli / 1000
  uint64_t big_id = 0;
  int city = 0;         ///< index into kTabularCities
  int64_t user = 0;     ///< written as "u<user>", 1-based
  int device = 0;       ///< index into kTabularDevices
  uint32_t genres = 0;  ///< bit g set: kTabularGenres[g] is listed; 0 means missing
  int64_t ts = 0;       ///< seconds since 1970-01-01 00:00:00
  std::array<bool, kTabularColumns> missing{};  ///< by TabularColumn; y is never missing
  double logit = 0.0;                           ///< true logit, intercept included
  float probability = 0.0f;                     ///< sigmoid(logit), as written to truth.f32
  uint8_t label = 0;                            ///< a Bernoulli(probability) draw
};

class TabularClickModel {
 public:
  /// `users` and `ids` are the distinct values of the user and big_id columns; `positive_rate`
  /// is the target mean probability, reached by solving the intercept on a sample of the
  /// `rows` rows of the file.
  TabularClickModel(uint64_t seed, int64_t users, int64_t ids, double positive_rate, int64_t rows);

  /// Draws row `row`'s fields, its true logit and probability, and its label.
  void MakeRow(int64_t row, TabularRow* out) const;

  double intercept() const { return intercept_; }

 private:
  double Score(int64_t row, TabularRow* out) const;  // logit without the intercept

  uint64_t seed_;
  int64_t rows_;
  int64_t users_;
  int64_t ids_;
  uint64_t user_multiplier_ = 1;  // user rank -> number: an affine permutation mod users_
  uint64_t user_offset_ = 0;
  uint64_t id_key_ = 0;
  std::array<double, kTabularCities.size()> city_effect_{};
  std::array<double, kTabularDevices.size()> device_effect_{};
  std::array<std::array<double, kTabularDevices.size()>, kTabularCities.size()>
      city_device_effect_{};
  std::array<double, kTabularGenres.size()> genre_effect_{};
  std::array<double, kTabularGenres.size()> genre_age_slope_{};
  double intercept_ = 0.0;
};

}  // namespace aiok::data
