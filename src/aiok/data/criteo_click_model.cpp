#include "aiok/data/criteo_click_model.h"

#include <algorithm>
#include <cmath>

#include "aiok/core/hash.h"
#include "aiok/data/generator.h"

namespace aiok::data {
namespace {

// Random streams: every draw hashes (row seed, stream id), so fields never share numbers.
enum Stream : uint64_t {
  kDenseValue = 0,            // + column
  kDenseNegative = 20,        // I2's small negatives
  kCategoryRank = 40,         // + column
  kMissingGroup = 80,         // + group
  kDenseOwnMissing = 100,     // + column, for columns outside a missing group
  kCategoryOwnMissing = 120,  // + column, likewise
  kCategoryEffect = 1000,     // + column, keyed by value rank (model-wide, not per row)
  kPairFactor = 2000,         // + 2 * pair + side
  kMissingEffect = 3000,      // + column (dense 0..12, categorical 13..38)
  kValueKey = 4000,           // + column
  kLabel = 5000,
};

// Integer columns: Lomax (Pareto II) counts, floor(scale * (u^(-1/alpha) - 1)), chosen so the
// medians and heavy tails resemble Kaggle's I1..I13.
constexpr std::array<double, kCriteoDense> kDenseScale = {1.7,  3.0,  7.0, 12.0, 4500.0, 45.0, 4.0,
                                                          27.0, 70.0, 1.5, 2.5,  0.8,    10.0};
constexpr std::array<double, kCriteoDense> kDenseAlpha = {1.5, 1.1, 1.3, 2.5, 1.2, 1.3, 1.1,
                                                          3.0, 1.6, 3.0, 1.5, 1.2, 2.0};
constexpr double kDenseCap = 1e8;  // Kaggle's largest count is ~2.3e7

// Effect of log1p(value) per integer column: slope, and curvature around the median so that a
// linear model cannot capture it all.
constexpr std::array<double, kCriteoDense> kDenseSlope = {
    0.50, 0.20, -0.15, 0.35, -0.18, 0.18, 0.45, 0.10, 0.20, 0.55, 0.50, 0.25, -0.18};
constexpr std::array<double, kCriteoDense> kDenseCurve = {0.0, -0.03, 0.0, 0.0, -0.06, 0.0, -0.05,
                                                          0.0, -0.04, 0.0, 0.0, 0.0,   0.0};

// Standard deviation of the per-value effect of each categorical column.
constexpr std::array<double, kCriteoCategorical> kCategoryEffectStd = {
    0.40, 0.30, 0.08, 0.08, 0.30, 0.35, 0.35, 0.25, 0.25, 0.15, 0.35, 0.08, 0.30,
    0.40, 0.30, 0.08, 0.30, 0.30, 0.30, 0.25, 0.08, 0.20, 0.25, 0.10, 0.30, 0.12};

// Interacting column pairs (0-based), from small-by-small to mid-by-mid cardinalities: the
// kind of crosses a dot-product interaction can learn.
constexpr std::array<std::array<int, 2>, CriteoClickModel::kPairs> kPairColumns = {
    {{0, 1}, {4, 13}, {6, 9}, {8, 16}, {10, 18}, {14, 25}}};
constexpr double kFactorStd = 0.45;

// Columns whose fields go missing together share a group and so one uniform per row: as in
// Kaggle, where e.g. C19, C20, C25 and C26 are empty in the same rows.
constexpr int kNoGroup = -1;
constexpr std::array<int, kCriteoDense> kDenseGroup = {0, kNoGroup, 1, 1, 3, 1, 2,
                                                       4, 2,        0, 2, 5, 1};
constexpr std::array<int, kCriteoCategorical> kCategoryGroup = {
    kNoGroup, kNoGroup, 6, 6,        kNoGroup, 8,        kNoGroup, kNoGroup, kNoGroup,
    kNoGroup, kNoGroup, 6, kNoGroup, kNoGroup, kNoGroup, 6,        kNoGroup, kNoGroup,
    7,        7,        6, 9,        kNoGroup, 6,        7,        7};
constexpr int kMissingGroups = 10;

// Overall strength of the signal. Calibrated so that a reference DLRM (Kaggle arch, SGD 0.1,
// batch 128) reaches test AUC ~0.78 after one epoch of the default 2M rows, against a
// Bayes-optimal ~0.84: learnable, with room left for better models.
constexpr double kSignalScale = 0.9;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

std::array<int, 2> CriteoClickModel::PairColumns(int pair) { return kPairColumns[pair]; }

CriteoClickModel::CriteoClickModel(uint64_t seed, double card_scale, double positive_rate,
                                   int64_t rows)
    : seed_(seed) {
  for (int c = 0; c < kCriteoCategorical; ++c) {
    const int64_t kaggle = kCriteoCardinalities[c];
    // Scaling never shrinks a column below two values (or its Kaggle size, if smaller).
    cardinality_[c] = std::max<int64_t>(std::min<int64_t>(kaggle, 2),
                                        std::llround(static_cast<double>(kaggle) * card_scale));
    const double s = kaggle >= 100000 ? 1.10 : (kaggle >= 1000 ? 1.05 : 0.90);
    zipf_inv_[c] = 1.0 / (1.0 - s);
    zipf_a_[c] = std::pow(static_cast<double>(cardinality_[c] + 1), 1.0 - s) - 1.0;
    value_key_[c] = static_cast<uint32_t>(HashPair(seed_, kValueKey + c));
    missing_effect_cat_[c] = 0.4 * ApproxNormal(HashPair(seed_, kMissingEffect + kCriteoDense + c));
  }
  for (int d = 0; d < kCriteoDense; ++d) {
    missing_effect_dense_[d] = 0.4 * ApproxNormal(HashPair(seed_, kMissingEffect + d));
    // log1p of the column's median count: the effect bends around typical values.
    dense_centre_[d] = std::log1p(kDenseScale[d] * (std::pow(2.0, 1.0 / kDenseAlpha[d]) - 1.0));
  }
  CriteoRow scratch;
  intercept_ = SolveIntercept(rows, positive_rate, [&](int64_t r) { return Score(r, &scratch); });
}

double CriteoClickModel::Score(int64_t row, CriteoRow* out) const {
  const uint64_t base = HashPair(seed_, static_cast<uint64_t>(row));
  std::array<double, kMissingGroups> group_u;
  for (int g = 0; g < kMissingGroups; ++g)
    group_u[g] = UnitDouble(HashPair(base, kMissingGroup + g));
  // A column without a group draws its own uniform.
  auto missing_uniform = [&](int group, uint64_t stream) {
    return group == kNoGroup ? UnitDouble(HashPair(base, stream)) : group_u[group];
  };

  double logit = 0.0;
  for (int d = 0; d < kCriteoDense; ++d) {
    const bool missing =
        missing_uniform(kDenseGroup[d], kDenseOwnMissing + d) < kCriteoDenseMissing[d];
    out->dense_missing[d] = missing;
    if (missing) {
      out->dense[d] = 0;
      logit += missing_effect_dense_[d];
      continue;
    }
    // 1 - u keeps the base of the power in (0, 1].
    const double u = 1.0 - UnitDouble(HashPair(base, kDenseValue + d));
    const double x =
        std::min(kDenseScale[d] * (std::pow(u, -1.0 / kDenseAlpha[d]) - 1.0), kDenseCap);
    int64_t value = static_cast<int64_t>(x);
    if (d == 1) {
      // I2 is the one column with small negative values (-1, -2, -3) in about 5% of rows.
      const double v = UnitDouble(HashPair(base, kDenseNegative));
      if (v < 0.05)
        value = -1 - static_cast<int64_t>(v * 60.0) % 3;
    }
    out->dense[d] = value;
    const double f = std::log1p(static_cast<double>(std::max<int64_t>(value, 0)));
    const double centre = dense_centre_[d];
    logit += kDenseSlope[d] * (f - centre) + kDenseCurve[d] * (f - centre) * (f - centre);
  }

  std::array<int64_t, kCriteoCategorical> rank{};
  for (int c = 0; c < kCriteoCategorical; ++c) {
    const bool missing =
        missing_uniform(kCategoryGroup[c], kCategoryOwnMissing + c) < kCriteoCategoricalMissing[c];
    out->category_missing[c] = missing;
    if (missing) {
      out->category[c] = 0;
      rank[c] = -1;
      logit += missing_effect_cat_[c];
      continue;
    }
    // Zipf-like rank by inverting the continuous power-law CDF on [1, N + 1).
    const double u = UnitDouble(HashPair(base, kCategoryRank + c));
    const double x = std::pow(1.0 + u * zipf_a_[c], zipf_inv_[c]);
    const int64_t r = std::clamp<int64_t>(static_cast<int64_t>(x), 1, cardinality_[c]) - 1;
    rank[c] = r;
    out->category[c] = Permute32(static_cast<uint32_t>(r), value_key_[c]);
    logit += kCategoryEffectStd[c] *
             ApproxNormal(HashTriple(seed_, kCategoryEffect + c, static_cast<uint64_t>(r)));
  }

  for (int p = 0; p < kPairs; ++p) {
    const int a = kPairColumns[p][0];
    const int b = kPairColumns[p][1];
    if (rank[a] < 0 || rank[b] < 0)
      continue;
    const uint64_t ka = HashTriple(seed_, kPairFactor + 2 * p, static_cast<uint64_t>(rank[a]));
    const uint64_t kb = HashTriple(seed_, kPairFactor + 2 * p + 1, static_cast<uint64_t>(rank[b]));
    double dot = 0.0;
    for (int k = 0; k < kFactorRank; ++k) {
      dot += ApproxNormal(HashPair(ka, k)) * ApproxNormal(HashPair(kb, k));
    }
    logit += kFactorStd * kFactorStd * dot;
  }
  return kSignalScale * logit;
}

void CriteoClickModel::MakeRow(int64_t row, CriteoRow* out) const {
  out->logit = Score(row, out) + intercept_;
  out->probability = static_cast<float>(Sigmoid(out->logit));
  // The label is drawn against the float probability that truth.f32 records, so the file's
  // truth is exactly the probability each label was drawn with.
  const uint64_t base = HashPair(seed_, static_cast<uint64_t>(row));
  out->label = UnitDouble(HashPair(base, kLabel)) < static_cast<double>(out->probability) ? 1 : 0;
}

}  // namespace aiok::data
