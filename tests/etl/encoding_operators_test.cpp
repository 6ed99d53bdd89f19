// count_encode, frequency_encode and target_encode: their statistics and states, and target
// encoding through the ETL against a brute-force recomputation from the raw rows — train rows
// out of fold, valid and test rows from every train row, serving identical to the test rows.
#include "aiok/etl/encoding_operators.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "aiok/core/atomic_file.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/data/dataset.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/schema_inference.h"
#include "aiok/data/tabular_generator.h"
#include "aiok/etl/field_binding.h"
#include "aiok/etl/table_etl.h"
#include "aiok/etl/table_transformer.h"

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;

TEST(CountEncode, CountsTrainRowsAndSavesThem) {
  CountEncode count;
  const std::vector<int64_t> fit = {7, 7, 3, kMissingValue, 7};
  count.FitCategorical(fit.data(), fit.size());
  count.FinishFit();
  const std::vector<int64_t> values = {7, 3, 9, kMissingValue};
  std::vector<double> out(values.size());
  count.TransformIdsToDense(values.data(), values.size(), out.data());
  EXPECT_EQ(out, (std::vector<double>{3, 1, 0, 0}));
  CountEncode loaded;
  loaded.options().log = true;
  loaded.LoadState(count.SaveState());
  loaded.TransformIdsToDense(values.data(), values.size(), out.data());
  EXPECT_DOUBLE_EQ(out[0], std::log1p(3.0));

  FrequencyEncode frequency;
  frequency.FitCategorical(fit.data(), fit.size());
  frequency.FinishFit();
  frequency.TransformIdsToDense(values.data(), values.size(), out.data());
  EXPECT_EQ(out, (std::vector<double>{0.6, 0.2, 0, 0}));
}

TEST(TargetEncode, OutOfFoldRowsUseOnlyTheOtherFolds) {
  TargetEncode encode;
  encode.options().folds = 3;
  encode.options().smoothing = 2.0;
  const std::vector<int64_t> values = {1, 1, 1, 2, 2, 1, 3, kMissingValue};
  const std::vector<float> labels = {1, 0, 1, 1, 0, 1, 0, 1};
  const std::vector<int32_t> folds = {0, 1, 2, 0, 1, 1, 2, 0};
  encode.FitCategoricalInFolds(values.data(), labels.data(), folds.data(), values.size());
  encode.FinishFit();
  const double prior = 5.0 / 8.0;
  // Every train row: (sum + prior * 2) / (count + 2).
  std::vector<double> out(4);
  const std::vector<int64_t> asked = {1, 2, 9, kMissingValue};
  encode.TransformIdsToDense(asked.data(), asked.size(), out.data());
  EXPECT_DOUBLE_EQ(out[0], (3 + prior * 2) / (4 + 2));
  EXPECT_DOUBLE_EQ(out[1], (1 + prior * 2) / (2 + 2));
  EXPECT_DOUBLE_EQ(out[2], prior) << "an unseen value takes the prior";
  EXPECT_DOUBLE_EQ(out[3], (1 + prior * 2) / (1 + 2)) << "missing is a value of its own";
  // Value 1 in fold 1: the rows of folds 0 and 2 (labels 1, 1), prior of folds 0 and 2.
  const int64_t one = 1;
  const int32_t fold = 1;
  double oof = 0;
  encode.TransformTrainRows(&one, &fold, 1, &oof);
  const double prior_without_1 = (1 + 1 + 1 + 0 + 1) / 5.0;  // rows 0, 2, 3, 6, 7
  EXPECT_DOUBLE_EQ(oof, (2 + prior_without_1 * 2) / (2 + 2));
  // The saved state serves the full-train encodings.
  TargetEncode loaded;
  loaded.options().smoothing = 2.0;
  loaded.LoadState(encode.SaveState());
  std::vector<double> again(4);
  loaded.TransformIdsToDense(asked.data(), asked.size(), again.data());
  EXPECT_EQ(again, out);
  // It lists each value's train rows and label sum (integers for a binary label), not the
  // encodings: they follow from them exactly.
  const nlohmann::json state = encode.SaveState();
  EXPECT_EQ(state.at("values"), nlohmann::json::parse("[-1, 1, 2, 3]"));
  EXPECT_EQ(state.at("counts"), nlohmann::json::parse("[1, 4, 2, 1]"));
  EXPECT_EQ(state.at("sums").dump(), "[1,3,1,0]");
  EXPECT_FALSE(state.contains("encodings"));
  // A state saved as encodings (before aiok wrote counts and sums) loads to the same
  // transform, and saves back as it was.
  const nlohmann::json old_state = {
      {"prior", prior},
      {"values", {kMissingValue, 1, 2, 3}},
      {"encodings", {out[3], out[0], out[1], (0 + prior * 2) / (1 + 2)}}};
  TargetEncode old;
  old.options().smoothing = 2.0;
  old.LoadState(old_state);
  old.TransformIdsToDense(asked.data(), asked.size(), again.data());
  EXPECT_EQ(again, out);
  EXPECT_EQ(old.SaveState(), old_state);
  EXPECT_EQ(loaded.SaveState(), state);
  // Folds spread records evenly and do not depend on anything but (seed, record).
  std::vector<int> per_fold(3, 0);
  for (int64_t record = 0; record < 3000; ++record)
    ++per_fold[static_cast<size_t>(encode.FoldOf(record))];
  for (int count : per_fold)
    EXPECT_NEAR(count, 1000, 120);
}

// An encoder fitted by another dictionary's codes (the ETL's path when the field has a
// categorify) equals one fitted by raw keys: the same features for train rows out of fold,
// other rows, missing and unseen values (looked up by value too), and the same saved state.
TEST(Encoders, FittedByCodesEqualFittedByKeys) {
  // Keys in first-seen order are the codes; 40 is a value of valid/test rows only.
  const std::vector<int64_t> by_code = {10, 20, 30, 40};
  const std::vector<int64_t> keys = {10, 20, 10, kMissingValue, 30, 10, 20, kMissingValue, 10};
  const std::vector<int32_t> codes = {0, 1, 0, -1, 2, 0, 1, -1, 0};
  const std::vector<float> labels = {1, 0, 1, 1, 0, 0, 1, 0, 1};
  const std::vector<int32_t> folds = {0, 1, 2, 0, 1, 2, 0, 1, 2};
  const std::vector<int64_t> asked = {10, 20, 30, 40, 99, kMissingValue};
  const std::vector<int32_t> asked_codes = {0, 1, 2, 3, EncoderCodes::kUnseen, -1};
  const std::vector<int32_t> asked_folds = {2, -1, 0, -1, 1, 1};

  auto check = [&](Operator& by_keys, Operator& by_codes) {
    ASSERT_TRUE(by_codes.fits_codes());
    by_codes.BeginCodes(by_code);
    if (by_keys.out_of_fold()) {
      by_keys.FitCategoricalInFolds(keys.data(), labels.data(), folds.data(), keys.size());
      by_codes.FitCodes(codes.data(), labels.data(), folds.data(), codes.size());
    } else {
      by_keys.FitCategoricalWithLabels(keys.data(), labels.data(), keys.size());
      by_codes.FitCodes(codes.data(), labels.data(), nullptr, codes.size());
    }
    by_keys.FinishFit();
    by_codes.FinishFit();
    EXPECT_EQ(by_codes.SaveState(), by_keys.SaveState()) << by_keys.name();
    std::vector<double> want(asked.size());
    std::vector<double> got(asked.size());
    by_keys.TransformIdsToDense(asked.data(), asked.size(), want.data());
    by_codes.TransformCodes(asked_codes.data(), nullptr, asked.size(), got.data());
    EXPECT_EQ(got, want) << by_keys.name();
    by_codes.TransformIdsToDense(asked.data(), asked.size(), got.data());
    EXPECT_EQ(got, want) << by_keys.name() << " by value";
    if (!by_keys.out_of_fold())
      return;
    // Train rows out of fold (fold -1: every train row's statistics).
    by_codes.TransformCodes(asked_codes.data(), asked_folds.data(), asked.size(), got.data());
    for (size_t i = 0; i < asked.size(); ++i) {
      double one = 0;
      if (asked_folds[i] < 0) {
        by_keys.TransformIdsToDense(&asked[i], 1, &one);
      } else {
        by_keys.TransformTrainRows(&asked[i], &asked_folds[i], 1, &one);
      }
      EXPECT_EQ(got[i], one) << "row " << i;
    }
  };
  CountEncode count_keys, count_codes;
  check(count_keys, count_codes);
  CountEncode log_keys, log_codes;
  log_keys.options().log = log_codes.options().log = true;
  check(log_keys, log_codes);
  FrequencyEncode frequency_keys, frequency_codes;
  check(frequency_keys, frequency_codes);
  TargetEncode target_keys, target_codes;
  target_keys.options().folds = target_codes.options().folds = 3;
  target_keys.options().smoothing = target_codes.options().smoothing = 2.0;
  check(target_keys, target_codes);
  TargetEncode in_fold_keys, in_fold_codes;
  in_fold_keys.options().folds = in_fold_codes.options().folds = 1;
  check(in_fold_keys, in_fold_codes);

  // A loaded state saves back as it was, missing value included.
  TargetEncode loaded;
  loaded.options().smoothing = 2.0;
  loaded.LoadState(target_codes.SaveState());
  EXPECT_EQ(loaded.SaveState(), target_codes.SaveState());
  EXPECT_EQ(loaded.SaveState().at("values").front(), kMissingValue);
  // A state that lists a value twice is refused, naming the operator and the value.
  nlohmann::json twice = count_codes.SaveState();
  twice["values"][1] = twice["values"][0];
  CountEncode refused;
  try {
    refused.LoadState(twice);
    FAIL() << "a repeated value was loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("count_encode state: value 10 is listed twice"),
              std::string::npos)
        << e.what();
  }
}

constexpr char kPipeline[] = R"(
steps:
  - columns: [city]
    ops: [{target_encode: {folds: 4, smoothing: 10, seed: 3}}]
  - columns: [device]
    ops: [{count_encode: {log: true}}]
  - columns: [user]
    ops: [{frequency_encode: {}}]
)";

TEST(TargetEncodeEtl, TrainRowsOutOfFoldOthersFromAllTrainRowsServingTheSame) {
  const fs::path root = fs::temp_directory_path() / ("aiok_encoders_" + std::to_string(getpid()));
  CancellationToken token;
  RunContext ctx{7, 2, &token};
  data::TabularGenerator generator;
  generator.options().rows = 5000;
  generator.Generate(ctx, (root / "raw").string());
  const std::string csv = (root / "raw" / "mixed.csv").string();
  const data::TableSchema schema = data::InferSchema(csv, data::InferOptions());
  TableEtlOptions options;
  options.input = csv;
  options.out_dir = (root / "ds").string();
  options.schema = schema;
  options.range_bytes = 32 << 10;  // many batches
  RunTableEtl(PipelineSpec::FromJson(ParseConfigText(kPipeline, "p.yaml"), "p.yaml"), options, ctx);
  const data::DatasetSchema dataset = data::ReadDatasetSchema(options.out_dir);
  size_t city = 0;
  while (dataset.features.dense[city] != "city")
    ++city;

  // The raw rows: city keys, labels and record numbers.
  std::vector<int64_t> keys;
  std::vector<double> labels;
  std::vector<int64_t> records;
  size_t city_field = 0;
  size_t label_field = 0;
  for (size_t f = 0; f < schema.fields.size(); ++f) {
    if (schema.fields[f].name == "city")
      city_field = f;
    if (schema.fields[f].name == "y")
      label_field = f;
  }
  std::vector<data::FeatureBatch> served;
  const Pipeline fitted = Pipeline::LoadState(
      nlohmann::json::parse(ReadFile(options.out_dir + "/etl_state/pipeline.json")),
      DenseFieldNames(schema), CategoricalFieldNames(schema), "pipeline.json");
  const TableTransformer transformer(schema, fitted,
                                     LabelMapping::FromJson(dataset.label_mapping, "schema.json"));
  data::ReadTable(csv, schema, data::TextReadOptions(), ctx, [&](data::TableBatch& batch) {
    const auto n = static_cast<size_t>(batch.rows);
    std::vector<int64_t> k(n);
    std::vector<double> y(n);
    CategoricalKeys(batch.columns[city_field], 0, n, k.data());
    DenseValues(batch.columns[label_field], 0, n, y.data());
    keys.insert(keys.end(), k.begin(), k.end());
    labels.insert(labels.end(), y.begin(), y.end());
    const std::vector<int64_t> r = batch.RowRecords();
    records.insert(records.end(), r.begin(), r.end());
    served.push_back(transformer.Transform(batch, true));
  });

  // Brute force: statistics of the train records by (key, fold).
  const data::SplitInfo& train_split = dataset.split("train");
  TargetEncode folds_of;
  folds_of.options().folds = 4;
  folds_of.options().seed = 3;
  std::map<std::pair<int64_t, int32_t>, std::pair<double, int64_t>> stats;
  std::vector<double> fold_sum(4, 0);
  std::vector<int64_t> fold_count(4, 0);
  auto is_train = [&](int64_t record) {
    return record >= train_split.lines.begin && record < train_split.lines.begin + train_split.rows;
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!is_train(records[i]))
      continue;
    const int32_t f = folds_of.FoldOf(records[i]);
    auto& s = stats[{keys[i], f}];
    s.first += labels[i];
    ++s.second;
    fold_sum[f] += labels[i];
    ++fold_count[f];
  }
  auto expected = [&](int64_t key, int32_t skip_fold) {
    double sum = 0, prior_sum = 0;
    int64_t count = 0, prior_count = 0;
    for (int32_t f = 0; f < 4; ++f) {
      if (f == skip_fold)
        continue;
      prior_sum += fold_sum[f];
      prior_count += fold_count[f];
      const auto found = stats.find({key, f});
      if (found != stats.end()) {
        sum += found->second.first;
        count += found->second.second;
      }
    }
    const double prior = prior_sum / static_cast<double>(prior_count);
    return (sum + prior * 10) / (static_cast<double>(count) + 10);
  };

  const auto n_dense = static_cast<size_t>(dataset.features.dense_width());
  int checked_train = 0;
  int checked_test = 0;
  for (const char* split : {"train", "test"}) {
    const data::SplitReader reader(options.out_dir, dataset, split);
    const int64_t first = dataset.split(split).lines.begin;
    int64_t row = 0;
    for (size_t s = 0; s < reader.shard_rows().size(); ++s) {
      const data::FeatureBatch shard =
          reader.View(static_cast<int64_t>(s), 0, reader.shard_rows()[s]);
      for (int64_t r = 0; r < shard.rows; ++r, ++row) {
        const auto i = static_cast<size_t>(first + row);
        const float got = shard.dense[static_cast<size_t>(r) * n_dense + city];
        if (std::string(split) == "train") {
          ASSERT_NEAR(got, expected(keys[i], folds_of.FoldOf(records[i])), 1e-5) << i;
          ++checked_train;
        } else {
          ASSERT_NEAR(got, expected(keys[i], -1), 1e-5) << i;
          ++checked_test;
        }
      }
    }
  }
  EXPECT_GT(checked_train, 3000);
  EXPECT_GT(checked_test, 300);

  // Serving computes the test rows' features exactly as the ETL wrote them.
  std::vector<const data::FeatureBatch*> parts;
  for (const auto& part : served)
    parts.push_back(&part);
  const data::FeatureBatch all = data::ConcatFeatureBatches(parts, transformer.Layout());
  const data::SplitReader test(options.out_dir, dataset, "test");
  const int64_t first = dataset.split("test").lines.begin;
  int64_t row = 0;
  for (size_t s = 0; s < test.shard_rows().size(); ++s) {
    const data::FeatureBatch shard = test.View(static_cast<int64_t>(s), 0, test.shard_rows()[s]);
    for (int64_t r = 0; r < shard.rows; ++r, ++row) {
      for (size_t d = 0; d < n_dense; ++d) {
        ASSERT_FLOAT_EQ(shard.dense[static_cast<size_t>(r) * n_dense + d],
                        all.dense[static_cast<size_t>(first + row) * n_dense + d])
            << dataset.features.dense[d] << " row " << row;
      }
    }
  }
  fs::remove_all(root);
}

// The ETL fits encoders by categorify's codes when the field has a categorify, by raw keys
// otherwise (here: a hash_bucket, which keeps no codes). Both give the same features in every
// split, bit for bit, and the same saved states — with an operator after the encoder fitted
// on the encoder's output (normalize: a second fit phase over the codes).
TEST(EncodersEtl, ByCategorifyCodesEqualByRawKeys) {
  const fs::path root = fs::temp_directory_path() / ("aiok_codes_" + std::to_string(getpid()));
  CancellationToken token;
  RunContext ctx{7, 2, &token};
  data::TabularGenerator generator;
  generator.options().rows = 6000;
  generator.Generate(ctx, (root / "raw").string());
  const std::string csv = (root / "raw" / "mixed.csv").string();
  const data::TableSchema schema = data::InferSchema(csv, data::InferOptions());
  const std::string encoders = R"(
  - {inputs: [city], output: city.te, ops: [{target_encode: {folds: 4, smoothing: 5, seed: 1}}]}
  - {inputs: [city], output: city.count, ops: [count_encode, {normalize: {}}]}
  - {inputs: [city], output: city.freq, ops: [frequency_encode]}
  - {inputs: [device], output: device.te1, ops: [{target_encode: {folds: 1, smoothing: 0}}]}
)";
  auto run = [&](const std::string& name, const std::string& field_ops) {
    const std::string text =
        "steps:\n  - {columns: [city, device], ops: [" + field_ops + "]}" + encoders;
    TableEtlOptions options;
    options.input = csv;
    options.out_dir = (root / name).string();
    options.schema = schema;
    options.range_bytes = 16 << 10;  // many batches
    options.split_rule = "random:0.7,0.15,3";
    RunTableEtl(PipelineSpec::FromJson(ParseConfigText(text, "p.yaml"), "p.yaml"), options, ctx);
    return options.out_dir;
  };
  const std::string coded = run("by_codes", "{categorify: {freq_threshold: 2}}");
  const std::string raw = run("by_keys", "{hash_bucket: {buckets: 1000}}");

  const data::DatasetSchema a = data::ReadDatasetSchema(coded);
  const data::DatasetSchema b = data::ReadDatasetSchema(raw);
  ASSERT_EQ(a.features.dense, b.features.dense);
  const auto width = static_cast<size_t>(a.features.dense_width());
  std::vector<size_t> compared;
  for (size_t d = 0; d < width; ++d) {
    if (a.features.dense[d].find('.') != std::string::npos)
      compared.push_back(d);
  }
  ASSERT_EQ(compared.size(), 4u);
  for (const char* split : {"train", "valid", "test"}) {
    const data::SplitReader ra(coded, a, split);
    const data::SplitReader rb(raw, b, split);
    ASSERT_EQ(ra.shard_rows(), rb.shard_rows());
    for (size_t s = 0; s < ra.shard_rows().size(); ++s) {
      const int64_t rows = ra.shard_rows()[s];
      const data::FeatureBatch x = ra.View(static_cast<int64_t>(s), 0, rows);
      const data::FeatureBatch y = rb.View(static_cast<int64_t>(s), 0, rows);
      for (int64_t r = 0; r < rows; ++r) {
        for (const size_t d : compared) {
          const size_t i = static_cast<size_t>(r) * width + d;
          ASSERT_EQ(x.dense[i], y.dense[i]) << split << " row " << r << " " << a.features.dense[d];
        }
      }
    }
  }
  const auto state = [](const std::string& dir) {
    return nlohmann::json::parse(ReadFile(dir + "/etl_state/pipeline.json")).at("columns");
  };
  const nlohmann::json sa = state(coded);
  const nlohmann::json sb = state(raw);
  for (const char* column : {"city.te", "city.count", "city.freq", "device.te1"})
    EXPECT_EQ(sa.at(column), sb.at(column)) << column;
  fs::remove_all(root);
}

}  // namespace
}  // namespace aiok::etl
