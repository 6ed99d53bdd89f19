// The ETL over a mixed table with chains of every shape — fitted dense chains, a dense column
// bucketized into ids, a categorical chain of two operators, a cross of two columns, a list
// field and a timestamp — against the serving transform: the features the ETL writes for the
// test split are the ones predict and serve compute from the same raw rows.
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
#include "aiok/etl/table_etl.h"
#include "aiok/etl/table_transformer.h"

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;

constexpr char kPipeline[] = R"(
steps:
  - columns: [price]
    ops: [{fill_missing: {strategy: median}}, {normalize: {method: standard}}]
  - columns: [age]
    ops: [{fill_missing: {strategy: median}}, {bucketize: {quantiles: 5}}]
  - columns: [score]
    ops: [{bucketize: {boundaries: "0.25,0.5,0.75"}}]
  - columns: [user]
    ops: [{hash_bucket: {buckets: 500}}, {categorify: {freq_threshold: 2}}]
  - inputs: [city, device]
    output: city_x_device
    ops: [{hashed_cross: {buckets: 1000}}]
)";

class TableEtlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("aiok_table_etl_" + std::to_string(getpid())));
    static CancellationToken token;
    data::TabularGenerator generator;
    generator.options().rows = 6000;
    RunContext ctx{11, 2, &token};
    generator.Generate(ctx, (*root_ / "raw").string());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }
  void SetUp() override { ctx_ = RunContext{0, 2, &token_}; }
  static std::string Csv() { return (*root_ / "raw" / "mixed.csv").string(); }

  static fs::path* root_;
  CancellationToken token_;
  RunContext ctx_;
};
fs::path* TableEtlTest::root_ = nullptr;

TEST_F(TableEtlTest, EveryChainShapeWritesWhatTheServingTransformComputes) {
  data::InferOptions infer;
  const data::TableSchema schema = data::InferSchema(Csv(), infer);
  TableEtlOptions options;
  options.input = Csv();
  options.out_dir = (*root_ / "ds").string();
  options.schema = schema;
  options.range_bytes = 64 << 10;  // many batches: fits and codes across them
  options.memory_budget = 256 << 10;  // most of them spilled between the passes
  const PipelineSpec spec = PipelineSpec::FromJson(ParseConfigText(kPipeline, "p.yaml"), "p.yaml");
  RunTableEtl(spec, options, ctx_);

  const data::DatasetSchema dataset = data::ReadDatasetSchema(options.out_dir);
  const data::FeatureLayout& layout = dataset.features;
  // Dense: price; ids: age and score buckets, user, the cross, big_id, city, device (default
  // categorify), the time parts; a list: genres.
  EXPECT_EQ(layout.dense, std::vector<std::string>({"price"}));
  std::map<std::string, int64_t> cardinality;
  for (const auto& feature : layout.categorical)
    cardinality[feature.name] = feature.cardinality;
  EXPECT_EQ(cardinality.count("age"), 1u);
  EXPECT_EQ(cardinality["score"], 5);  // missing + 4 buckets
  EXPECT_EQ(cardinality["city_x_device"], 1001);
  EXPECT_EQ(cardinality.count("ts.hour"), 1u);
  ASSERT_EQ(layout.jagged.size(), 1u);

  // The fitted pipeline and label mapping, reloaded as serving reloads them.
  const Pipeline fitted = Pipeline::LoadState(
      nlohmann::json::parse(ReadFile(options.out_dir + "/etl_state/pipeline.json")),
      DenseFieldNames(schema), CategoricalFieldNames(schema), "pipeline.json");
  const TableTransformer transformer(schema, fitted,
                                     LabelMapping::FromJson(dataset.label_mapping, "schema.json"));
  EXPECT_EQ(transformer.Layout().ToJson().dump(), [&] {
    data::FeatureLayout without_lengths = layout;
    for (auto& jagged : without_lengths.jagged)
      jagged.max_length = 0;
    return without_lengths.ToJson().dump();
  }());

  // The test split's rows from the shards, and from the raw file through the transform.
  const data::SplitReader shards(options.out_dir, dataset, "test");
  const data::SplitInfo& test = dataset.split("test");
  std::vector<data::FeatureBatch> transformed;
  data::TextReadOptions read;
  data::ReadTable(Csv(), schema, read, ctx_, [&](data::TableBatch& batch) {
    transformed.push_back(transformer.Transform(batch, true));
  });
  const data::FeatureBatch all = [&] {
    std::vector<const data::FeatureBatch*> parts;
    for (const auto& part : transformed)
      parts.push_back(&part);
    return data::ConcatFeatureBatches(parts, transformer.Layout());
  }();
  const auto n_dense = static_cast<size_t>(layout.dense_width());
  const auto n_cat = static_cast<size_t>(layout.categorical_width());
  int64_t row = 0;
  for (size_t s = 0; s < shards.shard_rows().size(); ++s) {
    const data::FeatureBatch shard = shards.View(static_cast<int64_t>(s), 0, shards.shard_rows()[s]);
    for (int64_t r = 0; r < shard.rows; ++r, ++row) {
      const auto got = static_cast<size_t>(r);
      const auto want = static_cast<size_t>(test.lines.begin + row);
      ASSERT_EQ(shard.labels[got], all.labels[want]) << row;
      for (size_t d = 0; d < n_dense; ++d)
        ASSERT_FLOAT_EQ(shard.dense[got * n_dense + d], all.dense[want * n_dense + d]) << row;
      for (size_t c = 0; c < n_cat; ++c) {
        ASSERT_EQ(shard.categorical[got * n_cat + c], all.categorical[want * n_cat + c])
            << "row " << row << " " << layout.categorical[c].name;
      }
      const data::JaggedIds& a = shard.jagged[0];
      const data::JaggedIds& b = all.jagged[0];
      ASSERT_EQ(a.length(r), b.length(static_cast<int64_t>(want))) << row;
      for (int64_t k = 0; k < a.length(r); ++k)
        ASSERT_EQ(a.values[a.offsets[r] + k], b.values[b.offsets[want] + k]) << row;
    }
  }
  EXPECT_EQ(row, test.rows);

  // Quantile buckets of age hold about a fifth of the train rows each (ties aside).
  const data::SplitReader train(options.out_dir, dataset, "train");
  std::map<int32_t, int64_t> per_bucket;
  size_t age = 0;
  while (layout.categorical[age].name != "age")
    ++age;
  int64_t rows = 0;
  for (size_t s = 0; s < train.shard_rows().size(); ++s) {
    const data::FeatureBatch shard = train.View(static_cast<int64_t>(s), 0, train.shard_rows()[s]);
    for (int64_t r = 0; r < shard.rows; ++r, ++rows)
      ++per_bucket[shard.categorical[static_cast<size_t>(r) * n_cat + age]];
  }
  for (const auto& [bucket, count] : per_bucket) {
    EXPECT_GE(bucket, 1) << "age is filled before it is bucketized";
    EXPECT_LT(count, rows * 2 / 5) << "bucket " << bucket;
  }
  EXPECT_GE(per_bucket.size(), 4u);
}

}  // namespace
}  // namespace aiok::etl
