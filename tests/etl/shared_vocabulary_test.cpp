// A behaviour history and its target item in one dictionary (categorify's `vocabulary`): the
// same item gets the same id in both fields, the dictionary counts the train rows of both, and
// the serving transform computes the ids the ETL wrote.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "aiok/core/atomic_file.h"
#include "aiok/core/config.h"
#include "aiok/data/dataset.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/sequence_generator.h"
#include "aiok/etl/table_etl.h"
#include "aiok/etl/table_transformer.h"

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;

std::string ErrorOf(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

class SharedVocabularyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("aiok_shared_vocabulary_" + std::to_string(getpid()));
    data::SequenceGenerator generator;
    generator.options().users = 400;
    generator.options().items = 300;
    generator.options().categories = 12;
    generator.options().events_per_user = 12;
    generator.options().max_history = 8;
    RunContext ctx{5, 2, &token_};
    generator.Generate(ctx, (root_ / "raw").string());
    options_.input = (root_ / "raw" / "events.csv").string();
    options_.out_dir = (root_ / "ds").string();
    options_.schema = data::SequenceEventsSchema();
    options_.range_bytes = 16 << 10;  // many batches, fitted side by side on two threads
  }
  void TearDown() override { fs::remove_all(root_); }

  void Etl(const std::string& yaml) {
    RunContext ctx{0, 2, &token_};
    RunTableEtl(PipelineSpec::FromJson(ParseConfigText(yaml, "p.yaml"), "p.yaml"), options_, ctx);
  }

  fs::path root_;
  CancellationToken token_;
  TableEtlOptions options_;
};

// user_id keeps every user (the default chain would map rare ones to one id).
constexpr char kShared[] = R"(
steps:
  - columns: [user_id]
    ops: [{categorify: {}}]
  - columns: [item_id]
    ops: [{categorify: {}}]
  - columns: [hist_items]
    ops: [{categorify: {vocabulary: item_id}}]
  - columns: [cat_id]
    ops: [{categorify: {}}]
  - columns: [hist_cats]
    ops: [{categorify: {vocabulary: cat_id}}]
)";

TEST_F(SharedVocabularyTest, HistoryAndTargetGetTheSameIdForTheSameItem) {
  Etl(kShared);
  const data::DatasetSchema dataset = data::ReadDatasetSchema(options_.out_dir);
  const data::FeatureLayout& layout = dataset.features;
  std::map<std::string, size_t> slot;
  for (size_t c = 0; c < layout.categorical.size(); ++c)
    slot[layout.categorical[c].name] = c;
  ASSERT_EQ(layout.jagged.size(), 2u);
  EXPECT_EQ(layout.jagged[0].cardinality, layout.categorical[slot.at("item_id")].cardinality);
  EXPECT_EQ(layout.jagged[1].cardinality, layout.categorical[slot.at("cat_id")].cardinality);

  // Rows are in time order: a user's clicked item (by its item_id id) is the last entry of
  // that user's next history (by its hist_items id) — only if the ids are shared.
  const data::SplitReader train(options_.out_dir, dataset, "train");
  const auto n_cat = static_cast<size_t>(layout.categorical_width());
  std::map<int32_t, std::pair<int32_t, int32_t>> last_click;  // user -> (item, category)
  int64_t checked = 0;
  int64_t train_rows = 0;
  int64_t history_entries = 0;
  for (size_t s = 0; s < train.shard_rows().size(); ++s) {
    const data::FeatureBatch shard = train.View(static_cast<int64_t>(s), 0, train.shard_rows()[s]);
    for (int64_t r = 0; r < shard.rows; ++r, ++train_rows) {
      const int32_t* ids = shard.categorical + static_cast<size_t>(r) * n_cat;
      const int32_t user = ids[slot.at("user_id")];
      const data::JaggedIds& items = shard.jagged[0];
      const data::JaggedIds& cats = shard.jagged[1];
      history_entries += items.length(r);
      const auto found = last_click.find(user);
      if (found != last_click.end()) {
        ASSERT_GT(items.length(r), 0) << "row " << train_rows;
        ASSERT_EQ(items.values[items.offsets[r + 1] - 1], found->second.first) << train_rows;
        ASSERT_EQ(cats.values[cats.offsets[r + 1] - 1], found->second.second) << train_rows;
        ++checked;
      }
      if (shard.labels[r] == 1.0f)
        last_click[user] = {ids[slot.at("item_id")], ids[slot.at("cat_id")]};
    }
  }
  EXPECT_GT(checked, 500);

  // One dictionary, counted over the train rows of both fields; both fields save it.
  const nlohmann::json state =
      nlohmann::json::parse(ReadFile(options_.out_dir + "/etl_state/pipeline.json"));
  std::map<std::string, nlohmann::json> op_state;
  for (const auto& [column, ops] : state.at("columns").items())
    op_state[column] = ops.at(0).at("state");
  EXPECT_EQ(op_state.at("hist_items"), op_state.at("item_id"));
  int64_t counted = 0;
  for (int64_t count : op_state.at("item_id").at("counts").get<std::vector<int64_t>>())
    counted += count;
  EXPECT_EQ(counted, train_rows + history_entries) << "valid and test rows are not counted";

  // Serving transforms the raw test rows into the ids the ETL wrote.
  const data::TableSchema schema = data::SequenceEventsSchema();
  const Pipeline fitted =
      Pipeline::LoadState(state, DenseFieldNames(schema), CategoricalFieldNames(schema), "p");
  const TableTransformer transformer(schema, fitted,
                                     LabelMapping::FromJson(dataset.label_mapping, "schema.json"));
  std::vector<data::FeatureBatch> transformed;
  RunContext ctx{0, 2, &token_};
  data::TextReadOptions read;
  data::ReadTable(options_.input, schema, read, ctx, [&](data::TableBatch& batch) {
    transformed.push_back(transformer.Transform(batch, true));
  });
  std::vector<const data::FeatureBatch*> parts;
  for (const auto& part : transformed)
    parts.push_back(&part);
  const data::FeatureBatch all = data::ConcatFeatureBatches(parts, transformer.Layout());
  const data::SplitReader test(options_.out_dir, dataset, "test");
  const int64_t first = dataset.split("test").lines.begin;
  int64_t row = 0;
  for (size_t s = 0; s < test.shard_rows().size(); ++s) {
    const data::FeatureBatch shard = test.View(static_cast<int64_t>(s), 0, test.shard_rows()[s]);
    for (int64_t r = 0; r < shard.rows; ++r, ++row) {
      for (size_t j = 0; j < 2; ++j) {
        const data::JaggedIds& a = shard.jagged[j];
        const data::JaggedIds& b = all.jagged[j];
        ASSERT_EQ(a.length(r), b.length(first + row)) << row;
        for (int64_t k = 0; k < a.length(r); ++k)
          ASSERT_EQ(a.values[a.offsets[r] + k], b.values[b.offsets[first + row] + k]) << row;
      }
      for (size_t c = 0; c < n_cat; ++c) {
        ASSERT_EQ(shard.categorical[static_cast<size_t>(r) * n_cat + c],
                  all.categorical[static_cast<size_t>(first + row) * n_cat + c])
            << row;
      }
    }
  }
  EXPECT_GT(row, 0);
}

TEST_F(SharedVocabularyTest, ASharedVocabularyMustNameAnotherPlainCategorifyField) {
  std::string message = ErrorOf([&] {
    Etl("steps:\n  - columns: [hist_items]\n    ops: [{categorify: {vocabulary: items}}]\n");
  });
  EXPECT_NE(message.find("vocabulary 'items' is not a field"), std::string::npos) << message;
  message = ErrorOf([&] {
    Etl("steps:\n  - columns: [hist_items]\n    ops: [{categorify: {vocabulary: item_id}}]\n"
        "  - columns: [item_id]\n    ops: [{hash_bucket: {buckets: 100}}, {categorify: {}}]\n");
  });
  EXPECT_NE(message.find("must be another field whose only operator is a categorify"),
            std::string::npos)
      << message;
  EXPECT_FALSE(fs::exists(options_.out_dir)) << "nothing written";
}

}  // namespace
}  // namespace aiok::etl
