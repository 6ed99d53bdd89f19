#include "aiok/data/tabular_click_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "aiok/core/hash.h"
#include "aiok/data/generator.h"

namespace aiok::data {
namespace {

// Random streams: every draw hashes (row seed, stream id), so fields never share numbers.
enum Stream : uint64_t {
  kMissing = 0,  // + column
  kPrice = 20,
  kAge = 21,
  kScore = 22,
  kBigId = 23,
  kCity = 24,
  kUser = 25,
  kDevice = 26,
  kGenreCount = 27,
  kGenrePick = 40,  // + attempt
  kTs = 80,
  kLabel = 90,
  // Model-wide keys (hashed with the seed, not the row).
  kCityEffect = 1000,
  kDeviceEffect = 1100,
  kCityDeviceEffect = 1200,
  kGenreEffect = 1300,
  kGenreAgeSlope = 1400,
  kUserEffect = 1500,
  kIdEffect = 1600,
  kUserPermutation = 1700,
  kIdKey = 1800,
};

// Zipf-like exponents of the categorical columns (value frequency ~ rank^-s).
constexpr double kCityZipf = 0.9;
constexpr double kDeviceZipf = 0.7;
constexpr double kUserZipf = 0.8;
constexpr double kIdZipf = 1.05;

// Standard deviations of the per-value effects.
constexpr double kCityEffectStd = 0.30;
constexpr double kDeviceEffectStd = 0.30;
constexpr double kCityDeviceEffectStd = 0.40;
constexpr double kUserEffectStd = 0.60;
constexpr double kIdEffectStd = 0.25;
constexpr double kGenreEffectStd = 0.30;
constexpr double kGenreAgeSlopeStd = 0.30;

// Genres per row: P(0) (the column's missing rate in tabular_layout.h), P(1), ..., P(4).
constexpr std::array<double, 5> kGenreCountP = {0.10, 0.35, 0.30, 0.17, 0.08};
// Popularity weight of each genre in kTabularGenres order.
constexpr std::array<double, kTabularGenres.size()> kGenreWeight = {
    9, 5, 3, 10, 5, 1.5, 12, 3, 4, 1.5, 4, 2, 3, 7, 4, 2, 6, 1, 0.7, 2};
constexpr double kGenreWeightSum = [] {
  double sum = 0.0;
  for (double w : kGenreWeight)
    sum += w;
  return sum;
}();
constexpr int kGenreAttempts = 24;

// Effect of each column's empty field (in place of the value's effect), by TabularColumn.
constexpr std::array<double, kTabularColumns> kMissingEffect = {0.0,   0.30, -0.20, 0.40,  0.0,
                                                                -0.30, 0.50, 0.20,  -0.40, 0.10};

// Effect of the weekday, Monday first.
constexpr std::array<double, 7> kWeekdayEffect = {-0.10, -0.05, 0.0, 0.0, 0.05, 0.25, 0.20};

// Overall strength of the signal: sets the Bayes-optimal AUC (about 0.82 at the defaults).
constexpr double kSignalScale = 1.4;

constexpr double kPi = 3.14159265358979323846;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Zipf-like 0-based rank in [0, n): inverts the continuous power-law CDF on [1, n + 1).
int64_t ZipfRank(double u, int64_t n, double s) {
  const double a = std::pow(static_cast<double>(n) + 1.0, 1.0 - s) - 1.0;
  const double x = std::pow(1.0 + u * a, 1.0 / (1.0 - s));
  return std::clamp<int64_t>(static_cast<int64_t>(x), 1, n) - 1;
}

double PriceEffect(double price) {
  const double lp = std::log(price);
  const double bump = (lp - 2.3) / 0.35;
  return -0.30 * (lp - 3.4) + 0.6 * std::exp(-bump * bump);
}

double AgeEffect(int64_t age) {
  const double mid = (static_cast<double>(age) - 50.0) / 20.0;
  return (age < 25 ? 0.5 : 0.0) - 0.25 * mid * mid;
}

double ScoreEffect(double score) { return 0.6 * std::tanh(score) + (score > 2.5 ? 0.5 : 0.0); }

}  // namespace

TabularClickModel::TabularClickModel(uint64_t seed, int64_t users, int64_t ids,
                                     double positive_rate, int64_t rows)
    : seed_(seed), rows_(rows), users_(users), ids_(ids) {
  // rank -> (rank * m + c) mod users is a permutation when m is coprime to users, so frequent
  // users get scattered numbers rather than u1, u2, ...
  user_multiplier_ = HashPair(seed_, kUserPermutation) % static_cast<uint64_t>(users_) | 1;
  while (std::gcd(user_multiplier_, static_cast<uint64_t>(users_)) != 1)
    user_multiplier_ += 2;
  user_offset_ = HashPair(seed_, kUserPermutation + 1) % static_cast<uint64_t>(users_);
  id_key_ = HashPair(seed_, kIdKey);
  for (size_t c = 0; c < kTabularCities.size(); ++c) {
    city_effect_[c] = kCityEffectStd * ApproxNormal(HashPair(seed_, kCityEffect + c));
    for (size_t d = 0; d < kTabularDevices.size(); ++d) {
      city_device_effect_[c][d] =
          kCityDeviceEffectStd * ApproxNormal(HashTriple(seed_, kCityDeviceEffect + c, d));
    }
  }
  for (size_t d = 0; d < kTabularDevices.size(); ++d)
    device_effect_[d] = kDeviceEffectStd * ApproxNormal(HashPair(seed_, kDeviceEffect + d));
  for (size_t g = 0; g < kTabularGenres.size(); ++g) {
    genre_effect_[g] = kGenreEffectStd * ApproxNormal(HashPair(seed_, kGenreEffect + g));
    genre_age_slope_[g] = kGenreAgeSlopeStd * ApproxNormal(HashPair(seed_, kGenreAgeSlope + g));
  }
  TabularRow scratch;
  intercept_ = SolveIntercept(rows, positive_rate, [&](int64_t r) { return Score(r, &scratch); });
}

double TabularClickModel::Score(int64_t row, TabularRow* out) const {
  const uint64_t base = HashPair(seed_, static_cast<uint64_t>(row));
  auto uniform = [&](uint64_t stream) { return UnitDouble(HashPair(base, stream)); };
  // Genres are missing when a row has none; every other column but y draws its own.
  auto& missing = out->missing;
  for (int c = 0; c < kTabularColumns; ++c) {
    missing[c] =
        c != kTabY && c != kTabGenres && uniform(kMissing + c) < kTabularColumnInfo[c].missing_rate;
  }
  double logit = 0.0;

  // Numbers: drawn, rounded to the digits written, and scored from the rounded values.
  const double price = std::exp(3.4 + 0.9 * ApproxNormal(HashPair(base, kPrice)));
  out->price_cents = std::max<int64_t>(1, std::llround(price * 100.0));
  out->age =
      std::clamp<int64_t>(std::llround(39.0 + 14.0 * ApproxNormal(HashPair(base, kAge))), 18, 90);
  out->score_milli = std::llround(1000.0 * (0.4 + 1.3 * ApproxNormal(HashPair(base, kScore))));
  logit += missing[kTabPrice] ? kMissingEffect[kTabPrice]
                              : PriceEffect(static_cast<double>(out->price_cents) / 100.0);
  logit += missing[kTabAge] ? kMissingEffect[kTabAge] : AgeEffect(out->age);
  logit += missing[kTabScore] ? kMissingEffect[kTabScore]
                              : ScoreEffect(static_cast<double>(out->score_milli) / 1000.0);

  // Categories.
  const int64_t id_rank = ZipfRank(uniform(kBigId), ids_, kIdZipf);
  out->big_id = Mix64(static_cast<uint64_t>(id_rank) ^ id_key_);  // a bijection: ids distinct
  logit += missing[kTabBigId]
               ? kMissingEffect[kTabBigId]
               : kIdEffectStd * ApproxNormal(HashTriple(seed_, kIdEffect, out->big_id));

  out->city = static_cast<int>(ZipfRank(uniform(kCity), kTabularCities.size(), kCityZipf));
  out->device = static_cast<int>(ZipfRank(uniform(kDevice), kTabularDevices.size(), kDeviceZipf));
  logit += missing[kTabCity] ? kMissingEffect[kTabCity] : city_effect_[out->city];
  logit += missing[kTabDevice] ? kMissingEffect[kTabDevice] : device_effect_[out->device];
  if (!missing[kTabCity] && !missing[kTabDevice])
    logit += city_device_effect_[out->city][out->device];

  const auto user_rank = static_cast<uint64_t>(ZipfRank(uniform(kUser), users_, kUserZipf));
  const auto users = static_cast<unsigned __int128>(users_);
  out->user =
      static_cast<int64_t>(
          (static_cast<unsigned __int128>(user_rank) * user_multiplier_ + user_offset_) % users) +
      1;
  logit += missing[kTabUser]
               ? kMissingEffect[kTabUser]
               : kUserEffectStd *
                     ApproxNormal(HashTriple(seed_, kUserEffect, static_cast<uint64_t>(out->user)));

  // Genres: a count, then distinct genres drawn by popularity. No genres is the missing value.
  int count = 0;
  for (double u = uniform(kGenreCount), cumulative = 0.0; count < 4; ++count) {
    cumulative += kGenreCountP[count];
    if (u < cumulative)
      break;
  }
  out->genres = 0;
  for (int attempt = 0, picked = 0; attempt < kGenreAttempts && picked < count; ++attempt) {
    double u = uniform(kGenrePick + attempt) * kGenreWeightSum;
    size_t g = 0;
    while (g + 1 < kGenreWeight.size() && u >= kGenreWeight[g]) {
      u -= kGenreWeight[g];
      ++g;
    }
    if (out->genres & (1u << g))
      continue;
    out->genres |= 1u << g;
    ++picked;
  }
  missing[kTabGenres] = out->genres == 0;
  if (missing[kTabGenres]) {
    logit += kMissingEffect[kTabGenres];
  } else {
    const double age_term = missing[kTabAge] ? 0.0 : (static_cast<double>(out->age) - 40.0) / 20.0;
    for (size_t g = 0; g < kTabularGenres.size(); ++g) {
      if (out->genres & (1u << g))
        logit += genre_effect_[g] + genre_age_slope_[g] * age_term;
    }
  }

  // Time: rises with the row over the span; hour-of-day and weekday effects.
  out->ts = kTabularTsStart +
            static_cast<int64_t>((static_cast<double>(row) + uniform(kTs)) *
                                 static_cast<double>(kTabularTsSpan) / static_cast<double>(rows_));
  if (missing[kTabTs]) {
    logit += kMissingEffect[kTabTs];
  } else {
    const int64_t days = out->ts / 86400;
    const double hour = static_cast<double>(out->ts % 86400 / 3600);
    const int weekday = static_cast<int>((days + 3) % 7);  // 1970-01-01 was a Thursday
    logit += 0.35 * std::cos(2.0 * kPi * (hour - 20.0) / 24.0) + kWeekdayEffect[weekday];
  }
  return kSignalScale * logit;
}

void TabularClickModel::MakeRow(int64_t row, TabularRow* out) const {
  out->logit = Score(row, out) + intercept_;
  out->probability = static_cast<float>(Sigmoid(out->logit));
  // Drawn against the float probability that truth.f32 records, as for criteo.
  const uint64_t base = HashPair(seed_, static_cast<uint64_t>(row));
  out->label = UnitDouble(HashPair(base, kLabel)) < static_cast<double>(out->probability) ? 1 : 0;
}

}  // namespace aiok::data
