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
  // Folds spread records evenly and do not depend on anything but (seed, record).
  std::vector<int> per_fold(3, 0);
  for (int64_t record = 0; record < 3000; ++record)
    ++per_fold[static_cast<size_t>(encode.FoldOf(record))];
  for (int count : per_fold)
    EXPECT_NEAR(count, 1000, 120);
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

}  // namespace
}  // namespace aiok::etl
