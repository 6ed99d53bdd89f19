#include "aiok/data/generator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/data/sequence_generator.h"
#include "aiok/data/splits.h"
#include "aiok/data/tabular_generator.h"

namespace aiok::data {
namespace {

constexpr int64_t kInterceptSample = 200000;
// |intercept| beyond which every probability is 0 or 1 in double for the scores generators
// use (|score| well below this).
constexpr double kInterceptBound = 1000.0;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

nlohmann::json ScoreRange(const std::vector<float>& truth, const std::vector<uint8_t>& labels,
                          RowRange range) {
  const float* p = truth.data() + range.begin;
  const uint8_t* y = labels.data() + range.begin;
  const auto n = static_cast<size_t>(range.size());
  return {{"begin", range.begin},
          {"end", range.end},
          {"rows", range.size()},
          {"positive_rate", PositiveRate(y, n)},
          {"bayes_auc", BinaryAuc(p, y, n)},
          {"bayes_logloss", BinaryLogLoss(p, y, n)}};
}

}  // namespace

void GeneratorRegistry::Register(const std::string& name, const std::string& description,
                                 Factory factory) {
  AIOK_ASSERT(entries_.count(name) == 0);
  entries_[name] = Entry{description, std::move(factory)};
}

std::unique_ptr<Generator> GeneratorRegistry::Create(const std::string& name) const {
  auto it = entries_.find(name);
  AIOK_CHECK(it != entries_.end(), ErrorKind::kConfig, "unknown generator '{}' (valid: {})", name,
             fmt::join(Names(), ", "));
  return it->second.factory();
}

std::vector<std::string> GeneratorRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_)
    names.push_back(name);
  return names;
}

const std::string& GeneratorRegistry::Description(const std::string& name) const {
  auto it = entries_.find(name);
  AIOK_ASSERT(it != entries_.end());
  return it->second.description;
}

void RegisterBuiltinGenerators(GeneratorRegistry& registry) {
  registry.Register("criteo",
                    "Criteo Kaggle layout (label, I1..I13, C1..C26) with known click probabilities",
                    [] { return std::make_unique<CriteoGenerator>(); });
  registry.Register("sequences",
                    "Behaviour log (user, item, category, time, click) whose users' interests "
                    "drift, with each row's click history for DIEN and known click probabilities",
                    [] { return std::make_unique<SequenceGenerator>(); });
  registry.Register("tabular",
                    "Mixed-type table (floats, ints, strings, a list, a timestamp, missing values) "
                    "as CSV and its Parquet twin, with known click probabilities",
                    [] { return std::make_unique<TabularGenerator>(); });
}

double SolveIntercept(int64_t rows, double positive_rate,
                      const std::function<double(int64_t row)>& score) {
  // Scores of an evenly strided sample of the file's rows: deterministic, and representative
  // of the whole file whatever its size.
  const int64_t sample = std::max<int64_t>(1, std::min<int64_t>(rows, kInterceptSample));
  std::vector<double> scores(sample);
  for (int64_t i = 0; i < sample; ++i) {
    scores[i] = score(static_cast<int64_t>(static_cast<__int128>(i) * rows / sample));
  }
  // Newton's method on mean(sigmoid(b + s)) = rate: the mean is increasing and smooth in b.
  // Where the scores are few or alike (one item, one category), the mean is a steep sigmoid
  // and plain Newton overshoots into its flat tails and diverges; so the root is kept in a
  // bracket, and a step that leaves it bisects instead. Steps inside it are plain Newton.
  double b = std::log(positive_rate / (1.0 - positive_rate));
  double low = -kInterceptBound;
  double high = kInterceptBound;
  for (int iter = 0; iter < 200; ++iter) {
    double mean = 0.0;
    double slope = 0.0;
    for (double s : scores) {
      const double p = Sigmoid(b + s);
      mean += p;
      slope += p * (1.0 - p);
    }
    mean /= static_cast<double>(sample);
    slope /= static_cast<double>(sample);
    (mean > positive_rate ? high : low) = b;
    const double step = (mean - positive_rate) / std::max(slope, 1e-12);
    if (std::fabs(step) < 1e-10) {
      b -= step;
      break;
    }
    b -= step;
    if (!(b > low && b < high))
      b = 0.5 * (low + high);
  }
  return b;
}

nlohmann::json BayesScores(const std::vector<float>& truth, const std::vector<uint8_t>& labels) {
  AIOK_ASSERT(truth.size() == labels.size());
  const auto rows = static_cast<int64_t>(truth.size());
  const SplitRanges splits = KaggleSplits(rows);
  return {{"all", ScoreRange(truth, labels, RowRange{0, rows})},
          {"train", ScoreRange(truth, labels, splits.train)},
          {"valid", ScoreRange(truth, labels, splits.valid)},
          {"test", ScoreRange(truth, labels, splits.test)}};
}

}  // namespace aiok::data
