// datetime_parts and the time split, alone and through the ETL: every part of epoch and
// YYMMDDHH times, rows split by their own time wherever they are in the file, bad times named
// by record, line, operator and column (or rejected under skip), and the avazu-like and
// criteo-full presets on data of their layouts.
#include "aiok/etl/time_operators.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/data/criteo_generator.h"
#include "aiok/data/dataset.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/schema_inference.h"
#include "aiok/data/value_parsing.h"
#include "aiok/etl/field_binding.h"
#include "aiok/etl/table_etl.h"
#include "aiok/etl/table_transformer.h"

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;

std::unique_ptr<Operator> MakeParts(const nlohmann::json& options) {
  OperatorRegistry registry;
  RegisterBuiltinOperators(registry);
  return registry.Create("datetime_parts", options, "test");
}

double Epoch(const char* text) {
  int64_t seconds = 0;
  EXPECT_EQ(data::ParseTimestamp(text, &seconds), data::ParseStatus::kOk) << text;
  return static_cast<double>(seconds);
}

std::vector<int64_t> Ids(const Operator& op, const std::vector<double>& values) {
  std::vector<int64_t> ids(values.size());
  op.TransformDenseToIds(values.data(), values.size(), ids.data());
  return ids;
}

TEST(DatetimeParts, EveryPartOfEpochAndYymmddhhTimes) {
  // Monday 2014-10-27 13:05, Sunday 2016-02-28 00:00, Thursday 1970-01-01 00:00, a time
  // before 1970 (Wednesday 1969-12-31 23:59:59) and a missing one.
  const std::vector<double> epoch = {Epoch("2014-10-27 13:05:00"), Epoch("2016-02-28"), 0.0, -1.0,
                                     NAN};
  const std::vector<double> yymmddhh = {14102713, 16022800, NAN};
  const std::map<std::string, std::pair<std::vector<int64_t>, int64_t>> want = {
      {"hour", {{14, 1, 1, 24, 0}, 25}},
      {"weekday", {{1, 7, 4, 3, 0}, 8}},
      {"day", {{27, 28, 1, 31, 0}, 32}},
      {"month", {{10, 2, 1, 12, 0}, 13}},
      {"year", {{2014 - 1969 + 1, 2016 - 1969 + 1, 2, 1, 0}, 2099 - 1969 + 2}}};
  for (const auto& [part, expected] : want) {
    const auto op = MakeParts({{"part", part}, {"first_year", 1969}});
    EXPECT_EQ(op->kind(), ColumnKind::kDense);
    EXPECT_EQ(op->output_kind(), ColumnKind::kCategorical);
    EXPECT_FALSE(op->needs_fit());
    EXPECT_EQ(Ids(*op, epoch), expected.first) << part;
    EXPECT_EQ(op->cardinality(), expected.second) << part;
    const auto avazu = MakeParts({{"part", part}, {"format", "yymmddhh"}, {"first_year", 1969}});
    const std::vector<int64_t> from_avazu = Ids(*avazu, yymmddhh);
    // 14102713 is 13:00 of the same day: every part as 13:05.
    EXPECT_EQ(from_avazu, (std::vector<int64_t>{expected.first[0], expected.first[1], 0})) << part;
  }
}

TEST(DatetimeParts, BadTimesAndOptionsAreNamed) {
  const auto avazu = MakeParts({{"part", "weekday"}, {"format", "yymmddhh"}});
  for (const auto& [bad, says] :
       std::vector<std::pair<double, std::string>>{{14132100, "month 13"},
                                                   {14102125, "hour 25"},
                                                   {14102100.5, "whole number"},
                                                   {-3, "not 8 digits"}}) {
    try {
      Ids(*avazu, {bad});
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find("datetime_parts"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  }
  const auto year = MakeParts({{"part", "year"}, {"first_year", 2000}, {"last_year", 2010}});
  EXPECT_EQ(Ids(*year, {Epoch("2010-12-31 23:59:59")}), std::vector<int64_t>{11});
  EXPECT_THROW(Ids(*year, {Epoch("2011-01-01")}), Error);
  EXPECT_THROW(MakeParts({{"part", "minute"}}), Error);
  EXPECT_THROW(MakeParts({{"format", "iso"}}), Error);
  EXPECT_THROW(MakeParts({{"first_year", 2010}, {"last_year", 2000}}), Error);
}

class TimeEtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("aiok_time_etl_" + std::to_string(getpid()));
    fs::create_directories(root_);
    ctx_ = RunContext{0, 2, &token_};
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (root_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  // Runs the ETL on `csv` with an inferred schema (edited by `edit`), the pipeline `yaml`.
  EtlSummary Run(const std::string& csv, const std::string& yaml, const std::string& split,
                 data::OnError on_error = data::OnError::kFail,
                 const std::function<void(data::TableSchema*)>& edit = nullptr,
                 const std::string& preset = "") {
    TableEtlOptions options;
    options.input = csv;
    options.out_dir = Out();
    data::InferOptions infer;
    options.schema = data::InferSchema(csv, infer);
    if (edit)
      edit(&options.schema);
    schema_ = options.schema;
    options.split_rule = split;
    options.on_error = on_error;
    options.range_bytes = 64;  // several batches even for a small file
    fs::remove_all(Out());
    const PipelineSpec spec =
        preset.empty() ? PipelineSpec::FromJson(ParseConfigText(yaml, "p.yaml"), "p.yaml")
                       : LoadPreset(preset, 0);
    return RunTableEtl(spec, options, ctx_);
  }
  std::string Out() const { return (root_ / "ds").string(); }
  // Every row of a split: (dense values, categorical ids).
  std::vector<std::pair<std::vector<float>, std::vector<int32_t>>> Rows(const std::string& split) {
    const data::DatasetSchema schema = data::ReadDatasetSchema(Out());
    const data::SplitReader reader(Out(), schema, split);
    const size_t dense = schema.features.dense.size();
    const size_t cat = schema.features.categorical.size();
    std::vector<std::pair<std::vector<float>, std::vector<int32_t>>> rows;
    const std::vector<int64_t> shard_rows = reader.shard_rows();
    for (size_t s = 0; s < shard_rows.size(); ++s) {
      const data::FeatureBatch batch = reader.View(static_cast<int64_t>(s), 0, shard_rows[s]);
      for (int64_t r = 0; r < batch.rows; ++r) {
        rows.emplace_back(
            std::vector<float>(batch.dense + r * dense, batch.dense + (r + 1) * dense),
            std::vector<int32_t>(batch.categorical + r * cat, batch.categorical + (r + 1) * cat));
      }
    }
    return rows;
  }

  fs::path root_;
  data::TableSchema schema_;  // of the last Run
  CancellationToken token_;
  RunContext ctx_;
};

// `t` is the row's YYMMDDHH once more, as a dense feature, to see which rows each split got.
constexpr char kTimes[] = R"(click,hour,t
0,14102100,14102100
1,14103023,14103023
0,14102913,14102913
1,14102223,14102223
0,14102800,14102800
1,14102723,14102723
0,14103100,14103100
1,14102305,14102305
)";
constexpr char kPartsPipeline[] = R"(
steps:
  - columns: [hour]
    ops: [datetime_parts: {part: hour, format: yymmddhh}]
  - inputs: [hour]
    output: hour.weekday
    ops: [datetime_parts: {part: weekday, format: yymmddhh}]
  - columns: [t]
    ops: [fill_missing: {value: 0}]
)";

TEST_F(TimeEtlTest, RowsGoToTheSplitOfTheirOwnTime) {
  const std::string csv = Write("times.csv", kTimes);
  const EtlSummary summary = Run(csv, kPartsPipeline, "time:hour:yymmddhh:2014-10-28,2014-10-30");
  EXPECT_EQ(summary.rows, 8);
  const data::DatasetSchema schema = data::ReadDatasetSchema(Out());
  EXPECT_EQ(schema.split_rule, "time:hour:yymmddhh:2014-10-28,2014-10-30");
  std::map<std::string, std::vector<int>> times;
  for (const std::string split : {"train", "valid", "test"}) {
    for (const auto& [dense, ids] : Rows(split)) {
      const int t = static_cast<int>(dense[0]);
      times[split].push_back(t);
      // Its own hour of day and weekday (14102100 a Tuesday: weekday 2).
      EXPECT_EQ(ids[0], 1 + t % 100) << t;
      int64_t seconds = 0;
      std::string problem;
      ASSERT_TRUE(data::TimeFromInteger(t, data::TimeFormat::kYymmddhh, &seconds, &problem));
      EXPECT_EQ(ids[1], data::CivilFromSeconds(seconds).weekday) << t;
    }
  }
  // File order kept within a split.
  EXPECT_EQ(times["train"], (std::vector<int>{14102100, 14102223, 14102723, 14102305}));
  EXPECT_EQ(times["valid"], (std::vector<int>{14102913, 14102800}));
  EXPECT_EQ(times["test"], (std::vector<int>{14103023, 14103100}));
  // Fractions of the range 2014-10-21 00h .. 2014-10-31 00h (240 hours): train before hour
  // 120 (10-26 00h), valid before hour 180 (10-28 12h).
  Run(csv, kPartsPipeline, "time:hour:yymmddhh:0.5,0.25");
  EXPECT_EQ(data::ReadDatasetSchema(Out()).split_rule,
            "time:hour:yymmddhh:2014-10-26 00:00:00,2014-10-28 12:00:00");
  EXPECT_EQ(Rows("train").size(), 3u);
  EXPECT_EQ(Rows("valid").size(), 2u);
  EXPECT_EQ(Rows("test").size(), 3u);
}

TEST_F(TimeEtlTest, BadTimesNameRecordLineOperatorAndColumnOrAreRejected) {
  std::string text = kTimes;
  text += "1,14132100,14132100\n0,14103199,14103199\n1,14103101,14103101\n";
  const std::string csv = Write("bad.csv", text);
  try {
    Run(csv, kPartsPipeline, "kaggle");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    // The 9th record, on line 10 (after the header).
    EXPECT_NE(std::string(e.what()).find(csv + ": record 9 (line 10): datetime_parts on column "
                                               "hour: expected a YYMMDDHH time, found 14132100 "
                                               "(month 13)"),
              std::string::npos)
        << e.what();
  }
  const EtlSummary summary = Run(csv, kPartsPipeline, "kaggle", data::OnError::kSkip);
  EXPECT_EQ(summary.rows, 9);
  EXPECT_EQ(summary.rejected, 2);
  std::ifstream rejects(Out() + "/rejects.tsv");
  std::string header, first, second, none;
  std::getline(rejects, header);
  std::getline(rejects, first);
  std::getline(rejects, second);
  EXPECT_EQ(first,
            "9\t10\tdatetime_parts on column hour: expected a YYMMDDHH time, found "
            "14132100 (month 13)");
  EXPECT_EQ(second,
            "10\t11\tdatetime_parts on column hour: expected a YYMMDDHH time, found "
            "14103199 (hour 99)");
  EXPECT_FALSE(std::getline(rejects, none));
  const data::DatasetSchema schema = data::ReadDatasetSchema(Out());
  EXPECT_EQ(schema.rejected, 2);
  int64_t rows = 0;
  for (const auto& split : schema.splits)
    rows += split.rows;
  EXPECT_EQ(rows, 9);
  // A time split needs a time in every row: a missing one is named, or rejected.
  const std::string missing = Write("missing.csv", std::string(kTimes) + "1,,14103101\n");
  try {
    Run(missing, kPartsPipeline, "time:hour:yymmddhh:0.8,0.1");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("record 9 (line 10): the time split"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(
      Run(missing, kPartsPipeline, "time:hour:yymmddhh:0.8,0.1", data::OnError::kSkip).rejected, 1);
}

TEST_F(TimeEtlTest, MisplacedOrMistypedTimesAreConfigErrors) {
  const std::string csv =
      Write("typed.csv", "click,hour,site\n0,14102100,a\n1,14102101,b\n0,14102102,a\n");
  auto config_error = [&](const std::string& yaml, const std::string& split, const char* says) {
    try {
      Run(csv, yaml, split);
      ADD_FAILURE() << yaml << split;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  config_error(R"(steps: [{columns: [hour], ops: [{fill_missing: {value: 0}}, datetime_parts]}])",
               "kaggle", "must be the first operator of its chain");
  config_error(R"(steps: [{inputs: [site], output: s.hour, ops: [datetime_parts]}])", "kaggle",
               "reads dense values, but the column holds categorical");
  config_error(R"(steps: [{columns: [hour], ops: [{fill_missing: {value: 0}}]}])",
               "time:when:0.8,0.1", "has no field 'when'");
  config_error(R"(steps: [{columns: [hour], ops: [{fill_missing: {value: 0}}]}])",
               "time:site:0.8,0.1", "the field site has type string");
}

TEST_F(TimeEtlTest, AvazuLikePresetRunsOnAvazuLayout) {
  // Avazu's columns, made up: 60 rows over three days; integer ids made categorical and id
  // ignored, as the preset asks of the schema.
  std::string text =
      "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,"
      "app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,"
      "C17,C18,C19,C20,C21\n";
  for (int r = 0; r < 60; ++r) {
    text += fmt::format(
        "{},{},{},1005,{},1fbe01f{},f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,"
        "{:08x},{},1,{},{},320,50,{},0,{},{},{}\n",
        10000000000000000000ULL + static_cast<uint64_t>(r), r % 3 == 0 ? 1 : 0,
        14102100 + (r / 20) * 100 + r % 24, r % 2, r % 5, r * 7919 % 13,
        r % 3 == 0 ? "iphone" : "x", r % 2, 15700 + r % 4, 1722 + r % 3, 35 + r % 2,
        r % 4 == 0 ? -1 : 100079, 79 + r % 2);
  }
  const std::string csv = Write("avazu.csv", text);
  const EtlSummary summary = Run(
      csv, "", "time:hour:yymmddhh:2014-10-23,2014-10-23 12:00", data::OnError::kFail,
      [](data::TableSchema* schema) {
        for (data::Field& field : schema->fields) {
          if (field.name == "id")
            field.role = data::FieldRole::kIgnored;
          else if (field.name != "hour" && field.name != "click")
            field.role = data::FieldRole::kCategorical;
        }
      },
      "avazu-like");
  EXPECT_EQ(summary.rows, 60);
  const data::DatasetSchema schema = data::ReadDatasetSchema(Out());
  EXPECT_EQ(schema.features.dense,
            (std::vector<std::string>{"device_id.count", "device_ip.count"}));
  ASSERT_GE(schema.features.categorical.size(), 2u);
  EXPECT_EQ(schema.features.categorical[0].name, "hour");
  EXPECT_EQ(schema.features.categorical[0].cardinality, 25);
  EXPECT_EQ(schema.features.categorical.back().name, "hour.weekday");
  EXPECT_EQ(Rows("train").size(), 40u);  // days 21 and 22
  EXPECT_EQ(Rows("valid").size(), 12u);  // 10-23, hours 0..11
  EXPECT_EQ(Rows("test").size(), 8u);
  for (const auto& [dense, ids] : Rows("test")) {
    EXPECT_GE(ids[0], 13);     // 12h and later
    EXPECT_EQ(ids.back(), 4);  // 2014-10-23 was a Thursday
  }
  // Serving: the fitted pipeline reloaded, applied to the raw rows, gives the ETL's features
  // (the rows are in time order: train 0-39, test 40-47 (16h-23h), valid 48-59 (0h-11h)).
  const Pipeline fitted = Pipeline::LoadState(
      nlohmann::json::parse(std::ifstream(Out() + "/etl_state/pipeline.json")),
      DenseFieldNames(schema_), CategoricalFieldNames(schema_), "pipeline.json");
  const TableTransformer transformer(schema_, fitted,
                                     LabelMapping::FromJson(schema.label_mapping, "schema.json"));
  std::vector<data::FeatureBatch> parts;
  data::ReadTable(csv, schema_, data::TextReadOptions{}, ctx_, [&](data::TableBatch& batch) {
    parts.push_back(transformer.Transform(batch, true));
  });
  std::vector<const data::FeatureBatch*> pointers;
  for (const auto& part : parts)
    pointers.push_back(&part);
  const data::FeatureBatch served = data::ConcatFeatureBatches(pointers, transformer.Layout());
  ASSERT_EQ(served.rows, 60);
  const size_t n_cat = schema.features.categorical.size();
  const size_t n_dense = schema.features.dense.size();
  for (const auto& [split, first] :
       std::vector<std::pair<std::string, size_t>>{{"train", 0}, {"test", 40}, {"valid", 48}}) {
    size_t row = first;
    for (const auto& [dense, ids] : Rows(split)) {
      for (size_t c = 0; c < n_cat; ++c)
        EXPECT_EQ(ids[c], served.categorical[row * n_cat + c])
            << split << " row " << row << " " << c;
      for (size_t d = 0; d < n_dense; ++d)
        EXPECT_FLOAT_EQ(dense[d], served.dense[row * n_dense + d]) << split << " row " << row;
      ++row;
    }
  }
}

TEST_F(TimeEtlTest, CriteoFullPresetRunsOnGeneratedCriteo) {
  data::CriteoGenerator generator;
  generator.options().rows = 3000;
  generator.Generate(ctx_, (root_ / "criteo").string());
  TableEtlOptions options;
  options.input = (root_ / "criteo" / "train.txt").string();
  options.out_dir = Out();
  options.schema = data::CriteoTableSchema(true);
  RunTableEtl(LoadPreset("criteo-full", 0), options, ctx_);
  const data::DatasetSchema schema = data::ReadDatasetSchema(Out());
  EXPECT_EQ(schema.features.dense.size(), 13u + 8u + 8u);
  EXPECT_EQ(schema.features.dense[13], "C3.count");
  EXPECT_EQ(schema.features.dense[21], "C3.target");
  EXPECT_EQ(schema.features.categorical.size(), 26u + 3u);
  EXPECT_EQ(schema.features.categorical[26].name, "C1_x_C2");
  EXPECT_EQ(schema.features.categorical[26].cardinality, 200001);
  // Target encodings are click rates; counts are logs of train counts.
  for (const auto& [dense, ids] : Rows("test")) {
    for (size_t d = 21; d < 29; ++d) {
      EXPECT_GE(dense[d], 0.0f);
      EXPECT_LE(dense[d], 1.0f);
    }
    for (size_t d = 13; d < 21; ++d)
      EXPECT_LE(dense[d], std::log1p(3000.0f));
  }
}

}  // namespace
}  // namespace aiok::etl
