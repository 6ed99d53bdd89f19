#include "aiok/data/sequence_click_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <utility>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::data {
namespace {

// Random streams: every draw hashes (user or item key, stream, impression), so no two draws
// share numbers.
enum Stream : uint64_t {
  // Per item.
  kItemCategory = 1,
  kItemAppeal = 2,
  kItemPermutation = 3,
  // Per user.
  kUserKey = 10,
  kLength = 11,
  kFavouriteCount = 12,
  kFavourite = 13,         // + attempt
  kFavouriteWeight = 100,  // + favourite
  kUserBias = 120,
  kFocusStart = 121,
  // Per impression.
  kGap = 200,
  kFocusMove = 201,
  kFocusDraw = 202,
  kShow = 203,
  kShowDraw = 204,
  kItem = 205,
  kLabel = 206,
};

constexpr int kFavouriteAttempts = 64;
constexpr double kShowRest = 1.0 - SequenceClickModel::kShowFocus - SequenceClickModel::kShowTaste;
static_assert(kShowRest >= 0.0);

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Zipf-like 0-based rank in [0, n): inverts the continuous power-law CDF on [1, n + 1).
int64_t ZipfRank(double u, int64_t n, double s) {
  const double top = static_cast<double>(n) + 1.0;
  const double x = std::fabs(s - 1.0) < 1e-9
                       ? std::pow(top, u)  // s = 1: the CDF is log(x) / log(n + 1)
                       : std::pow(1.0 + u * (std::pow(top, 1.0 - s) - 1.0), 1.0 / (1.0 - s));
  return std::clamp<int64_t>(static_cast<int64_t>(x), 1, n) - 1;
}

// Exponential(1) from a uniform in [0, 1).
double Exponential(double u) { return -std::log1p(-u); }

}  // namespace

// pi_u = (1 - kTasteSpread) * (favourites' weights) + kTasteSpread * g, and b_u.
struct SequenceClickModel::Taste {
  int favourites = 0;
  std::array<int32_t, kMaxFavourites> category{};
  std::array<double, kMaxFavourites> cumulative{};  // running sums of the weights, ending at 1
  std::array<double, kMaxFavourites> weight{};
  double bias = 0.0;

  // pi_u(c), given g.
  double Share(int32_t c, const std::vector<double>& g) const {
    double favourite = 0.0;
    for (int f = 0; f < favourites; ++f) {
      if (category[f] == c)
        favourite = weight[f];
    }
    return (1.0 - kTasteSpread) * favourite + kTasteSpread * g[static_cast<size_t>(c)];
  }
};

SequenceClickModel::SequenceClickModel(uint64_t seed, int64_t users, int64_t items,
                                       int64_t categories, int64_t events_per_user)
    : seed_(seed), users_(users), items_(items), events_per_user_(events_per_user) {
  AIOK_ASSERT(users >= 1 && categories >= 1 && items >= categories && items <= INT32_MAX);
  category_weight_.resize(static_cast<size_t>(categories));
  for (int64_t c = 0; c < categories; ++c)
    category_weight_[c] = std::pow(static_cast<double>(c + 1), -kCategoryZipf);
  const double total = std::accumulate(category_weight_.begin(), category_weight_.end(), 0.0);
  category_cumulative_.resize(category_weight_.size());
  double running = 0.0;
  for (size_t c = 0; c < category_weight_.size(); ++c) {
    category_weight_[c] /= total;
    running += category_weight_[c];
    category_cumulative_[c] = running;
  }
  category_cumulative_.back() = 1.0;

  // The first `categories` items found one category each, so none is empty; the others fall
  // into categories by popularity.
  item_category_.resize(static_cast<size_t>(items));
  item_appeal_.resize(static_cast<size_t>(items));
  std::vector<int64_t> counts(static_cast<size_t>(categories) + 1, 0);
  for (int64_t i = 0; i < items; ++i) {
    const int32_t category = i < categories
                                 ? static_cast<int32_t>(i)
                                 : DrawCategory(UnitDouble(HashTriple(seed_, kItemCategory, i)));
    item_category_[i] = category;
    item_appeal_[i] =
        static_cast<float>(kAppealStd * ApproxNormal(HashTriple(seed_, kItemAppeal, i)));
    ++counts[static_cast<size_t>(category) + 1];
  }
  category_begin_.assign(counts.begin(), counts.end());
  std::partial_sum(category_begin_.begin(), category_begin_.end(), category_begin_.begin());
  category_items_.resize(static_cast<size_t>(items));
  std::vector<int64_t> next(category_begin_.begin(), category_begin_.end() - 1);
  for (int64_t i = 0; i < items; ++i)  // in index order: lower indices are more popular
    category_items_[next[item_category_[i]]++] = static_cast<int32_t>(i);

  // index -> (index * m + o) mod items is a permutation when m is coprime to items.
  const auto n = static_cast<uint64_t>(items_);
  id_multiplier_ = HashPair(seed_, kItemPermutation) % n | 1;
  while (std::gcd(id_multiplier_, n) != 1)
    id_multiplier_ += 2;
  id_offset_ = HashPair(seed_, kItemPermutation + 1) % n;
}

int64_t SequenceClickModel::Events(int64_t user) const {
  // Gamma(2, mean 1) lengths: most users near the mean, a tail of heavy users.
  const uint64_t key = HashTriple(seed_, kLength, static_cast<uint64_t>(user));
  const double gamma =
      0.5 * (Exponential(UnitDouble(HashPair(key, 0))) + Exponential(UnitDouble(HashPair(key, 1))));
  return std::clamp<int64_t>(std::llround(static_cast<double>(events_per_user_) * gamma), 1,
                             kMaxEventsPerUser);
}

int64_t SequenceClickModel::ItemId(int32_t item) const {
  const auto n = static_cast<unsigned __int128>(items_);
  return static_cast<int64_t>((static_cast<unsigned __int128>(item) * id_multiplier_ + id_offset_) %
                              n) +
         1;
}

int32_t SequenceClickModel::DrawCategory(double u) const {
  const auto it = std::upper_bound(category_cumulative_.begin(), category_cumulative_.end(), u);
  return static_cast<int32_t>(std::min<ptrdiff_t>(
      it - category_cumulative_.begin(), static_cast<ptrdiff_t>(category_cumulative_.size()) - 1));
}

int32_t SequenceClickModel::DrawItem(int32_t category, double u) const {
  const int64_t begin = category_begin_[category];
  const int64_t size = category_begin_[category + 1] - begin;
  return category_items_[begin + ZipfRank(u, size, kItemZipf)];
}

SequenceClickModel::Taste SequenceClickModel::UserTaste(int64_t user) const {
  const uint64_t key = HashTriple(seed_, kUserKey, static_cast<uint64_t>(user));
  Taste taste;
  const int wanted = kMinFavourites + static_cast<int>(HashPair(key, kFavouriteCount) %
                                                       (kMaxFavourites - kMinFavourites + 1));
  // Distinct favourites drawn by popularity; with few categories there may be fewer.
  for (int attempt = 0; attempt < kFavouriteAttempts && taste.favourites < wanted; ++attempt) {
    const int32_t c = DrawCategory(UnitDouble(HashPair(key, kFavourite + attempt)));
    const auto end = taste.category.begin() + taste.favourites;
    if (std::find(taste.category.begin(), end, c) == end)
      taste.category[taste.favourites++] = c;
  }
  double total = 0.0;
  for (int f = 0; f < taste.favourites; ++f) {
    taste.weight[f] = Exponential(UnitDouble(HashPair(key, kFavouriteWeight + f)));
    total += taste.weight[f];
  }
  double running = 0.0;
  for (int f = 0; f < taste.favourites; ++f) {
    taste.weight[f] /= total;
    running += taste.weight[f];
    taste.cumulative[f] = running;
  }
  taste.cumulative[taste.favourites - 1] = 1.0;
  taste.bias = kUserBiasStd * ApproxNormal(HashPair(key, kUserBias));
  return taste;
}

void SequenceClickModel::Simulate(int64_t user, SequenceImpression* out) const {
  const Taste taste = UserTaste(user);
  const uint64_t key = HashTriple(seed_, kUserKey, static_cast<uint64_t>(user));
  const int64_t count = Events(user);
  auto uniform = [&](int64_t j, uint64_t stream) {
    return UnitDouble(HashTriple(key, static_cast<uint64_t>(j), stream));
  };
  // A draw from pi_u with one uniform: the low kTasteSpread of [0, 1) picks from g.
  auto draw_taste = [&](double u) {
    if (u < kTasteSpread)
      return DrawCategory(u / kTasteSpread);
    const double v = (u - kTasteSpread) / (1.0 - kTasteSpread);
    const auto end = taste.cumulative.begin() + taste.favourites;
    const auto it = std::upper_bound(taste.cumulative.begin(), end, v);
    return taste.category[std::min<ptrdiff_t>(it - taste.cumulative.begin(), taste.favourites - 1)];
  };

  // Times: the order statistics of `count` uniform points over the span (exponential gaps,
  // normalized), so every user's stream covers the whole span and the file's last rows (the
  // test split) are every user's latest impressions.
  double gaps = 0.0;
  for (int64_t j = 0; j <= count; ++j)
    gaps += Exponential(uniform(j, kGap));
  double elapsed = 0.0;
  int32_t focus = draw_taste(UnitDouble(HashPair(key, kFocusStart)));
  for (int64_t j = 0; j < count; ++j) {
    elapsed += Exponential(uniform(j, kGap));
    SequenceImpression& e = out[j];
    e.timestamp = kStartTime + static_cast<int64_t>(static_cast<double>(kTimeSpan) *
                                                    std::min(elapsed / gaps, 1.0));
    if (j > 0 && uniform(j, kFocusMove) >= kFocusStay)
      focus = draw_taste(uniform(j, kFocusDraw));
    const double show = uniform(j, kShow);
    const int32_t category = show < kShowFocus                ? focus
                             : show < kShowFocus + kShowTaste ? draw_taste(uniform(j, kShowDraw))
                                                              : DrawCategory(uniform(j, kShowDraw));
    e.category = category;
    e.item = DrawItem(category, uniform(j, kItem));
    e.base_logit = static_cast<float>(item_appeal_[e.item] + taste.bias);
    e.in_focus = category == focus;
    // q = P(focus = c | u, c shown): the prior pi_u(c) times how much likelier c is to be
    // shown when it is the focus, normalized.
    const double pi = taste.Share(category, category_weight_);
    const double shown_otherwise = kShowTaste * pi + kShowRest * category_weight_[category];
    e.prior_focus = static_cast<float>(pi * (kShowFocus + shown_otherwise) /
                                       (kShowFocus * pi + shown_otherwise));
  }
}

void SequenceClickModel::Score(int64_t user, const SequenceImpression* events, int64_t count,
                               double intercept, SequenceOutcome* out) const {
  const Taste taste = UserTaste(user);
  const uint64_t key = HashTriple(seed_, kUserKey, static_cast<uint64_t>(user));
  // The history filter's belief over the focus before an impression:
  //   alpha(s) = w pi_u(s) + scale * extra(s),
  // with `extra` non-zero only at categories clicked so far. Every update scales all states
  // alike except the shown category, so this form stays exact at O(clicked categories) a step.
  double w = 1.0;
  double scale = 1.0;
  std::vector<std::pair<int32_t, double>> extra;
  auto find_extra = [&](int32_t c) -> double* {
    for (auto& [category, value] : extra) {
      if (category == c)
        return &value;
    }
    return nullptr;
  };
  for (int64_t j = 0; j < count; ++j) {
    const SequenceImpression& e = events[j];
    if (j > 0) {  // the focus may have moved: alpha <- stay alpha + (1 - stay) pi_u
      w = kFocusStay * w + (1.0 - kFocusStay);
      scale *= kFocusStay;
      if (scale < 1e-150) {  // fold the scale in before it underflows
        for (auto& entry : extra)
          entry.second *= scale;
        scale = 1.0;
      }
    }
    const double logit = intercept + static_cast<double>(e.base_logit);
    const double p_focus = Sigmoid(logit + kFocusEffect);
    const double p_other = Sigmoid(logit);
    SequenceOutcome& o = out[j];
    o.probability = static_cast<float>(e.in_focus ? p_focus : p_other);
    o.label = UnitDouble(HashTriple(key, static_cast<uint64_t>(j), kLabel)) <
                      static_cast<double>(o.probability)
                  ? 1
                  : 0;
    const double q = e.prior_focus;
    o.no_history = static_cast<float>(q * p_focus + (1.0 - q) * p_other);

    // The filter: belief in the shown category, then the exposure's evidence (the category is
    // shown more often when it is the focus).
    const int32_t c = e.category;
    const double pi = taste.Share(c, category_weight_);
    double* extra_c = find_extra(c);
    const double alpha = w * pi + (extra_c ? scale * *extra_c : 0.0);
    const double shown_other = kShowTaste * pi + kShowRest * category_weight_[c];
    const double shown_focus = kShowFocus + shown_other;
    const double posterior = shown_focus * alpha / (shown_other + kShowFocus * alpha);
    o.history = static_cast<float>(posterior * p_focus + (1.0 - posterior) * p_other);
    if (!o.label)
      continue;  // what was shown and not clicked is left out: hist_cats does not carry it
    // A click: every state's weight times P(shown, clicked | state), then normalized.
    const double f_other = shown_other * p_other;
    const double f_focus = shown_focus * p_focus;
    const double norm = f_other + (f_focus - f_other) * alpha;
    w *= f_other / norm;
    scale *= f_other / norm;
    if (!extra_c) {
      extra.emplace_back(c, 0.0);
      extra_c = &extra.back().second;
    }
    *extra_c = (f_focus * alpha / norm - w * pi) / scale;
  }
}

}  // namespace aiok::data
