#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/etl/categorical_operators.h"
#include "aiok/etl/dense_operators.h"
#include "aiok/etl/dense_value_counts.h"

namespace aiok::etl {
namespace {

using Json = nlohmann::json;

std::unique_ptr<Operator> Make(const std::string& name, const Json& options = Json::object()) {
  OperatorRegistry registry;
  RegisterBuiltinOperators(registry);
  return registry.Create(name, options, "test pipeline step 1");
}

std::vector<double> Dense(Operator& op, std::vector<double> values) {
  op.TransformDense(values.data(), values.size());
  return values;
}

std::vector<int64_t> Ids(const Operator& op, const std::vector<int64_t>& values) {
  std::vector<int64_t> ids(values.size());
  op.TransformCategorical(values.data(), values.size(), ids.data());
  return ids;
}

// Fits `op` on `batches` (each one Fit call), then finishes the fit.
template <typename T>
void Fit(Operator& op, const std::vector<std::vector<T>>& batches) {
  for (const auto& batch : batches) {
    if constexpr (std::is_same_v<T, double>) {
      op.FitDense(batch.data(), batch.size());
    } else {
      op.FitCategorical(batch.data(), batch.size());
    }
  }
  op.FinishFit();
}

// A copy of `op` made from its options and saved state, as a reloaded pipeline would be.
std::unique_ptr<Operator> Reloaded(Operator& op) {
  auto copy = Make(op.name(), op.Options());
  copy->LoadState(Json::parse(op.SaveState().dump()));
  return copy;
}

const double kNan = std::nan("");

TEST(FillMissing, ConstantNeedsNoFit) {
  auto op = Make("fill_missing", {{"value", -1.5}});
  EXPECT_FALSE(op->needs_fit());
  EXPECT_EQ(Dense(*op, {1.0, kNan, 3.0}), (std::vector<double>{1.0, -1.5, 3.0}));
}

TEST(FillMissing, MedianOfTrainingValuesByHand) {
  auto odd = Make("fill_missing", {{"strategy", "median"}});
  Fit<double>(*odd, {{5.0, kNan, 1.0}, {3.0, 3.0, 100.0}});  // 1 3 3 5 100 -> 3
  EXPECT_EQ(Dense(*odd, {kNan, 7.0}), (std::vector<double>{3.0, 7.0}));
  auto even = Make("fill_missing", {{"strategy", "median"}});
  Fit<double>(*even, {{4.0, 1.0}, {kNan, 10.0, 2.0}});  // 1 2 4 10 -> (2 + 4) / 2
  EXPECT_EQ(Dense(*even, {kNan}), (std::vector<double>{3.0}));
  EXPECT_EQ(Dense(*Reloaded(*even), {kNan}), (std::vector<double>{3.0}));
}

// Counts of values added in batches of uneven sizes equal a std::map's, in ascending order;
// NaN is skipped and -0.0 is 0.0.
TEST(DenseValueCounts, EqualAMapOfCounts) {
  std::mt19937_64 random(11);
  std::map<double, int64_t> expected;
  DenseValueCounts counts;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<double> values(static_cast<size_t>(1000 + batch * 397));
    for (double& v : values) {
      const uint64_t r = random();
      v = r % 13 == 0 ? kNan : r % 17 == 0 ? -0.0 : static_cast<double>(r % 5000) / 4.0 - 300;
      if (!std::isnan(v))
        ++expected[v];
    }
    counts.Add(values.data(), values.size());
  }
  const std::vector<std::pair<double, int64_t>> sorted = counts.Sorted();
  ASSERT_EQ(sorted.size(), expected.size());
  size_t i = 0;
  for (const auto& [value, count] : expected) {
    EXPECT_EQ(sorted[i].first, value);
    EXPECT_EQ(sorted[i].second, count) << value;
    ++i;
  }
  for (const auto& [value, count] : sorted)
    EXPECT_FALSE(value == 0.0 && std::signbit(value)) << "-0.0 counts as 0.0";
}

// Quantile boundaries over 300k values fitted in batches: the definition (the value after the
// smallest one whose cumulative count reaches k/q of the rows; equal boundaries merge)
// recomputed from a std::map of counts.
TEST(Bucketize, QuantilesOfManyBatchesFollowTheDefinition) {
  std::mt19937_64 random(5);
  std::vector<std::vector<double>> batches(30, std::vector<double>(10000));
  std::map<double, int64_t> counts;
  int64_t total = 0;
  for (auto& batch : batches) {
    for (double& v : batch) {
      const uint64_t r = random();
      // Skewed: a third of the rows are 0, so several quantiles fall on it and merge.
      v = r % 3 == 0 ? 0.0 : r % 29 == 0 ? kNan : std::floor(std::exp((r >> 8) % 1000 / 100.0));
      if (!std::isnan(v)) {
        ++counts[v];
        ++total;
      }
    }
  }
  auto op = Make("bucketize", {{"quantiles", 16}});
  Fit<double>(*op, batches);
  std::vector<double> expected;
  int64_t seen = 0;
  int64_t k = 1;
  for (auto it = counts.begin(); it != counts.end(); ++it) {
    seen += it->second;
    for (; k < 16 && seen * 16 >= k * total; ++k) {
      const auto next = std::next(it);
      if (next != counts.end() && (expected.empty() || next->first > expected.back()))
        expected.push_back(next->first);
    }
  }
  EXPECT_EQ(Reloaded(*op)->SaveState().at("boundaries").get<std::vector<double>>(), expected);
  EXPECT_LT(expected.size(), 15u) << "skewed: equal quantiles merged";
  EXPECT_GT(expected.size(), 5u);
}

TEST(Clip, BoundsAndMissing) {
  auto op = Make("clip", {{"min", 0}, {"max", 10}});
  const auto out = Dense(*op, {-3.0, 5.0, 12.0, kNan});
  EXPECT_EQ(out[0], 0.0);
  EXPECT_EQ(out[1], 5.0);
  EXPECT_EQ(out[2], 10.0);
  EXPECT_TRUE(std::isnan(out[3]));
  EXPECT_EQ(Dense(*Make("clip", {{"min", 0}}), {-1.0, 1e12})[1], 1e12);
  EXPECT_THROW(Make("clip", {{"min", 5}, {"max", 1}}), Error);
}

TEST(Log1p, ValuesAndTheDomain) {
  auto op = Make("log1p");
  const auto out = Dense(*op, {0.0, std::exp(2.0) - 1.0, kNan});
  EXPECT_EQ(out[0], 0.0);
  EXPECT_NEAR(out[1], 2.0, 1e-12);
  EXPECT_TRUE(std::isnan(out[2]));
  EXPECT_THROW(Dense(*op, {-2.0}), Error);
}

TEST(Normalize, StandardUsesPopulationStdAcrossBatches) {
  auto op = Make("normalize");
  Fit<double>(*op, {{2.0, 4.0, kNan}, {4.0, 4.0, 5.0}, {5.0, 7.0, 9.0}});  // mean 5, std 2
  EXPECT_EQ(Dense(*op, {5.0, 9.0, 1.0}), (std::vector<double>{0.0, 2.0, -2.0}));
  EXPECT_EQ(Dense(*Reloaded(*op), {9.0}), (std::vector<double>{2.0}));
}

TEST(Normalize, MinMaxAndConstantColumns) {
  auto op = Make("normalize", {{"method", "minmax"}});
  Fit<double>(*op, {{2.0, 6.0}, {10.0}});
  EXPECT_EQ(Dense(*op, {2.0, 6.0, 10.0, 14.0}), (std::vector<double>{0.0, 0.5, 1.0, 1.5}));
  auto constant = Make("normalize");
  Fit<double>(*constant, {{3.0, 3.0}});
  EXPECT_EQ(Dense(*constant, {3.0, 4.0}), (std::vector<double>{0.0, 1.0}));
}

TEST(Categorify, IdsByDescendingFrequencyTiesByValue) {
  auto op = Make("categorify");
  // Counts: 7 -> 3, 5 -> 2, 9 -> 2, 4 -> 1; missing is not counted.
  Fit<int64_t>(*op, {{7, 9, 5, kMissingValue}, {7, 5, 9, 7, 4}});
  EXPECT_EQ(static_cast<Categorify&>(*op).vocabulary(), (std::vector<int64_t>{7, 5, 9, 4}));
  EXPECT_EQ(Ids(*op, {7, 5, 9, 4, kMissingValue, 123}),
            (std::vector<int64_t>{2, 3, 4, 5, kMissingId, kRareId}));
  EXPECT_EQ(op->cardinality(), 6);
}

TEST(Categorify, ThresholdAndMaxSize) {
  auto threshold = Make("categorify", {{"freq_threshold", 2}});
  Fit<int64_t>(*threshold, {{7, 9, 5, 7, 5, 9, 7, 4}});
  EXPECT_EQ(Ids(*threshold, {7, 5, 9, 4}), (std::vector<int64_t>{2, 3, 4, kRareId}));
  EXPECT_EQ(threshold->cardinality(), 5);
  auto capped = Make("categorify", {{"max_size", 2}});
  Fit<int64_t>(*capped, {{7, 9, 5, 7, 5, 9, 7, 4}});
  EXPECT_EQ(Ids(*capped, {7, 5, 9, 4}), (std::vector<int64_t>{2, 3, kRareId, kRareId}));
  EXPECT_EQ(capped->cardinality(), 4);
}

TEST(Categorify, StateRoundTripGivesIdenticalIds) {
  auto op = Make("categorify", {{"freq_threshold", 2}});
  Fit<int64_t>(*op, {{1, 1, 2, 2, 2, 3, 0xFFFFFFFF, 0xFFFFFFFF}});
  auto copy = Reloaded(*op);
  const std::vector<int64_t> probe = {0xFFFFFFFF, 1, 2, 3, 4, kMissingValue};
  EXPECT_EQ(Ids(*copy, probe), Ids(*op, probe));
  EXPECT_EQ(copy->cardinality(), op->cardinality());
  auto broken = Make("categorify");
  EXPECT_THROW(broken->LoadState(Json{{"values", {1, 1}}, {"counts", {2, 2}}}), Error);
}

TEST(HashBucket, StableIdsInRange) {
  auto op = Make("hash_bucket", {{"buckets", 10}});
  const auto ids = Ids(*op, {1, 2, 3, 1, kMissingValue});
  EXPECT_EQ(ids[0], ids[3]);
  EXPECT_EQ(ids[4], 0);
  for (int i = 0; i < 4; ++i) {
    EXPECT_GE(ids[i], 1);
    EXPECT_LE(ids[i], 10);
  }
  EXPECT_EQ(op->cardinality(), 11);
}

TEST(OperatorRegistry, BadNamesAndOptionsNameThePlace) {
  try {
    Make("categorise");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test pipeline step 1: unknown operator 'categorise' "
                                         "(valid: bucketize, categorify, clip, count_encode, "
                                         "datetime_parts, fill_missing, frequency_encode, "
                                         "hash_bucket, "
                                         "hashed_cross, log1p, normalize, target_encode)"),
              std::string::npos)
        << e.what();
  }
  for (const auto& [name, options] :
       std::vector<std::pair<std::string, Json>>{{"categorify", {{"freq_threshold", 0}}},
                                                 {"categorify", {{"threshold", 3}}},
                                                 {"normalize", {{"method", "zscore"}}},
                                                 {"fill_missing", {{"strategy", "mean"}}},
                                                 {"hash_bucket", {{"buckets", 0}}},
                                                 {"clip", {{"min", "zero"}}}}) {
    try {
      Make(name, options);
      ADD_FAILURE() << name << " accepted " << options.dump();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig);
      EXPECT_NE(std::string(e.what()).find("test pipeline step 1: " + name), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace aiok::etl

namespace aiok::etl {
namespace {

TEST(Categorify, WideValuesMidStreamKeepEarlierCounts) {
  // Narrow values first, then values outside 32 bits (and negative ones): the counts made
  // before the switch to the wide table must survive it.
  auto op = Make("categorify", {{"freq_threshold", 2}});
  const int64_t big = int64_t{1} << 40;
  Fit<int64_t>(*op, {{5, 5, 7}, {big, -7, big, 5, -7, 7, 9}});
  // 5 x3, then big, -7 and 7 x2 in value order, 9 once (rare).
  EXPECT_EQ(static_cast<Categorify&>(*op).vocabulary(), (std::vector<int64_t>{5, -7, 7, big}));
  EXPECT_EQ(Ids(*op, {5, -7, 7, big, 9, kMissingValue, big + 1}),
            (std::vector<int64_t>{2, 3, 4, 5, kRareId, kMissingId, kRareId}));
  EXPECT_EQ(Ids(*Reloaded(*op), {big, -7}), (std::vector<int64_t>{5, 3}));
}

TEST(Categorify, NarrowVocabularyTreatsWideValuesAsUnseen) {
  auto op = Make("categorify");
  Fit<int64_t>(*op, {{0, 0xFFFFFFFF, 0xFFFFFFFF}});
  EXPECT_EQ(Ids(*op, {0xFFFFFFFF, 0, int64_t{1} << 33, -5}),
            (std::vector<int64_t>{2, 3, kRareId, kRareId}));
}

}  // namespace
}  // namespace aiok::etl

namespace aiok::etl {
namespace {

TEST(Categorify, CodesGiveTheSameIdsAsValues) {
  // Fitting by FitEncode (train rows counted, all rows coded) and mapping codes must agree
  // with Fit + TransformCategorical on the same data.
  const std::vector<int64_t> batch1 = {7, 9, 5, kMissingValue, 7, 5, 11};
  const std::vector<int64_t> batch2 = {9, 7, 4, 13, int64_t{1} << 40, 13};
  auto by_values = Make("categorify", {{"freq_threshold", 2}});
  by_values->FitCategorical(batch1.data(), batch1.size());
  by_values->FitCategorical(batch2.data(), 3);  // train rows end inside batch 2
  by_values->FinishFit();
  auto by_codes = Make("categorify", {{"freq_threshold", 2}});
  std::vector<int32_t> codes1(batch1.size()), codes2(batch2.size());
  by_codes->FitEncode(batch1.data(), batch1.size(), batch1.size(), codes1.data());
  by_codes->FitEncode(batch2.data(), batch2.size(), 3, codes2.data());
  by_codes->FinishFit();
  for (const auto* batch : {&batch1, &batch2}) {
    const auto& codes = batch == &batch1 ? codes1 : codes2;
    std::vector<int32_t> mapped(codes.size());
    by_codes->MapCodes(codes.data(), codes.size(), mapped.data());
    const auto expected = Ids(*by_values, *batch);
    for (size_t i = 0; i < codes.size(); ++i)
      EXPECT_EQ(mapped[i], expected[i]) << i;
  }
  // 13 only in the rows after the train ones: never counted, so rare.
  EXPECT_EQ(Ids(*by_codes, {13}), (std::vector<int64_t>{kRareId}));
  // 7 three times; 5 and 9 twice each, tie broken by value.
  EXPECT_EQ(static_cast<Categorify&>(*by_codes).vocabulary(), (std::vector<int64_t>{7, 5, 9}));
}

TEST(Categorify, UncountedRowsAreAsIfNeverCounted) {
  // Counting every row and then taking back the rows past the train split (as the ETL does,
  // since it learns where the split falls only after the read) fits what counting only the
  // train rows fits.
  const std::vector<int64_t> values = {7, 9, 5, kMissingValue, 7, 5, 9, 13, 13, 13, 5, 7};
  const size_t train_rows = 7;
  auto counted_train = Make("categorify", {{"freq_threshold", 2}});
  std::vector<int32_t> codes(values.size());
  counted_train->FitEncode(values.data(), values.size(), train_rows, codes.data());
  counted_train->FinishFit();
  auto uncounted = Make("categorify", {{"freq_threshold", 2}});
  uncounted->FitEncode(values.data(), values.size(), values.size(), codes.data());
  uncounted->UncountCodes(codes.data() + train_rows, values.size() - train_rows);
  uncounted->FinishFit();
  EXPECT_EQ(static_cast<Categorify&>(*uncounted).vocabulary(), (std::vector<int64_t>{5, 7, 9}));
  EXPECT_EQ(static_cast<Categorify&>(*uncounted).vocabulary(),
            static_cast<Categorify&>(*counted_train).vocabulary());
  EXPECT_EQ(counted_train->SaveState(), uncounted->SaveState());
  EXPECT_EQ(Ids(*uncounted, {13}), (std::vector<int64_t>{kRareId}));
}

}  // namespace
}  // namespace aiok::etl
