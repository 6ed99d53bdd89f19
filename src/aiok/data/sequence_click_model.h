// The hidden model behind `aiok datagen sequences`: users whose interest drifts across
// categories, items with their own appeal, and the probability that a shown item is clicked.
// Everything is a pure function of (seed, user, impression), so users can be simulated on any
// thread in any order.
//
// Catalogue. Categories have Zipf-like popularity g(c). Each item belongs to one category
// (every category has at least one item; the rest are drawn from g) and has an appeal
// a_i ~ N(0, 0.5); within a category, items are shown with Zipf-like frequencies.
//
// Users. User u has a long-term taste pi_u over categories: 5-12 favourite categories drawn
// from g with random weights, plus a little of g everywhere (so any category can interest
// anyone), and a click bias b_u ~ N(0, 0.3). The user's *current focus* s_t is one category
// that drifts: it starts at a draw from pi_u and, before each later impression, stays with
// probability kFocusStay or is drawn from pi_u again. pi_u is the chain's stationary
// distribution, so at every impression P(s_t = c | u) = pi_u(c), whatever t.
//
// Exposure. The shown item's category is the current focus with probability kShowFocus (the
// user browses what they are into now), a draw from pi_u with kShowTaste, otherwise a draw from
// g; the item is then drawn within the category.
//
// Clicks. logit = intercept + a_i + b_u + kFocusEffect * [category(i) == s_t]. The intercept is
// solved so that the mean probability is the requested positive rate. This probability, with
// s_t known, is the truth (truth.f32); its AUC is the Bayes-optimal AUC.
//
// What history is worth. Without the user's behaviour, the best a model can know about s_t is
// its posterior given the user's static parameters and the item shown now:
//   q = P(s_t = c | u, c shown) = pi_u(c) (kShowFocus + kShowTaste pi_u(c) + rest g(c))
//                                 / ((kShowFocus + kShowTaste) pi_u(c) + rest g(c))
// (rest = 1 - kShowFocus - kShowTaste; time and the impression's position tell nothing more,
// because the chain is stationary), so the best no-history probability is
//   p_nohistory = q sigmoid(L + kFocusEffect) + (1 - q) sigmoid(L),   L = intercept + a_i + b_u.
// That bound assumes pi_u, b_u and a_i known exactly: a model that learns them from a user id
// with a dozen rows gets less. Recent clicks reveal s_t, because clicks come mostly from the
// focus. The history filter shows how much: a forward filter over s_t that knows the user's
// parameters and, of the earlier impressions, only the categories of the clicked ones (what
// hist_cats carries) and how many impressions came between them; it ignores what was shown and
// not clicked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aiok::data {

/// One impression of a user's stream, before its label is drawn.
struct SequenceImpression {
  int64_t timestamp = 0;     ///< seconds since 1970-01-01, non-decreasing within a user
  int32_t item = 0;          ///< 0-based item index (ItemId gives the written id)
  int32_t category = 0;      ///< 0-based category index (written as category + 1)
  float base_logit = 0.0f;   ///< a_i + b_u: the logit's part that the focus does not change
  bool in_focus = false;     ///< the item's category is the user's current (hidden) focus
  float prior_focus = 0.0f;  ///< q above: P(focus is this category | user, item), no history
};

/// What the model says about one impression once the intercept is known.
struct SequenceOutcome {
  float probability = 0.0f;  ///< the truth: focus known
  float no_history = 0.0f;   ///< the best probability without the user's behaviour
  float history = 0.0f;      ///< the history filter's probability (past clicks only)
  uint8_t label = 0;         ///< a Bernoulli(probability) draw
};

class SequenceClickModel {
 public:
  /// Hidden-model constants, recorded in datagen.json.
  static constexpr double kCategoryZipf = 0.8;  ///< category popularity ~ rank^-s
  static constexpr double kItemZipf = 1.0;      ///< item popularity within a category
  static constexpr double kAppealStd = 0.5;
  static constexpr double kUserBiasStd = 0.3;
  static constexpr int kMinFavourites = 5;
  static constexpr int kMaxFavourites = 12;
  static constexpr double kTasteSpread = 0.05;  ///< share of pi_u spread over g
  static constexpr double kFocusStay = 0.9;     ///< P(focus unchanged) per impression
  static constexpr double kShowFocus = 0.3;
  static constexpr double kShowTaste = 0.4;
  static constexpr double kFocusEffect = 3.0;
  /// First timestamp (2024-01-01 00:00:00 UTC) and the span every user's stream covers.
  static constexpr int64_t kStartTime = 1704067200;
  static constexpr int64_t kTimeSpan = 60 * 86400;
  /// Longest stream of one user, whatever --events-per-user says.
  static constexpr int64_t kMaxEventsPerUser = int64_t{1} << 20;

  /// `events_per_user` is the mean stream length; lengths vary (Gamma(2)-like).
  SequenceClickModel(uint64_t seed, int64_t users, int64_t items, int64_t categories,
                     int64_t events_per_user);

  /// Number of impressions of `user` (0-based), at least 1.
  int64_t Events(int64_t user) const;
  /// The category of item `item` (0-based).
  int32_t Category(int32_t item) const { return item_category_[static_cast<size_t>(item)]; }
  /// The id written for item `item`: a permutation of 1..items, so ids do not follow categories.
  int64_t ItemId(int32_t item) const;

  /// Simulates `user`'s Events(user) impressions, in time order, into `out`.
  void Simulate(int64_t user, SequenceImpression* out) const;
  /// The probabilities and labels of `user`'s impressions `events` (from Simulate), given the
  /// intercept, into `out` (as many).
  void Score(int64_t user, const SequenceImpression* events, int64_t count, double intercept,
             SequenceOutcome* out) const;

 private:
  struct Taste;  // pi_u and b_u
  Taste UserTaste(int64_t user) const;
  int32_t DrawCategory(double u) const;  // from g
  int32_t DrawItem(int32_t category, double u) const;

  uint64_t seed_;
  int64_t users_;
  int64_t items_;
  int64_t events_per_user_;
  std::vector<double> category_weight_;      // g
  std::vector<double> category_cumulative_;  // running sums of g
  std::vector<int32_t> item_category_;
  std::vector<float> item_appeal_;
  // Items of category c: category_items_[category_begin_[c] .. category_begin_[c + 1]), most
  // popular first.
  std::vector<int64_t> category_begin_;
  std::vector<int32_t> category_items_;
  uint64_t id_multiplier_ = 1;  // item index -> id: an affine permutation mod items_
  uint64_t id_offset_ = 0;
};

}  // namespace aiok::data
