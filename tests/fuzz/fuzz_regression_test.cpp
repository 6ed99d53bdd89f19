// Inputs the fuzzers (fuzz/, scripts/fuzz.sh) found, each as the unit test of its fix. The
// raw inputs also live in fuzz/regressions/<harness>/ and are replayed by FuzzReplay.*.
//
// Findings in code the fuzzing work did not own were fixed there (4b6d316); their tests say
// where the defect was.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "aiok/core/atomic_file.h"
#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/data/schema.h"
#include "aiok/etl/field_binding.h"
#include "aiok/etl/pipeline.h"
#include "aiok/serving/bundle.h"
#include "aiok/serving/request_rows.h"
#include "aiok/serving/serving_pipeline.h"

namespace aiok {
namespace {

// Runs `body` and expects an aiok::Error of `kind` whose message contains `text`: never a
// raw nlohmann::json exception (which names no file or field, and would be a 500 in serve).
template <typename Body>
void ExpectAiokError(Body&& body, ErrorKind kind, const std::string& text) {
  try {
    body();
    FAIL() << "expected an aiok::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    FAIL() << "expected an aiok::Error, got " << e.what();
  }
}

// config_fuzzer: a schema file that is not a mapping and holds a byte that is not UTF-8.
// The message dumped the value strictly: json type_error.316 instead of the config error.
TEST(FuzzRegression, SchemaMessageQuotesNonUtf8Value) {
  const nlohmann::json json = ParseConfigText("\xaf\n", "s.yaml");
  ExpectAiokError([&] { data::TableSchema::FromJson(json, "s.yaml"); }, ErrorKind::kConfig,
                  "s.yaml: expected a mapping");
  const nlohmann::json bad_flag =
      ParseConfigText("format: {header: \"\xe9\"}\nfields: []\n", "s.yaml");
  ExpectAiokError([&] { data::TableSchema::FromJson(bad_flag, "s.yaml"); }, ErrorKind::kConfig,
                  "expected true or false");
}

// config_fuzzer: a field name that is not UTF-8 (a Latin-1 CSV header: `aiok schema infer`
// on "pr\xe9nom,y") was accepted, and then ToYaml (and every JSON file the dataset and bundle
// write) threw json type_error.316. The schema now refuses it, naming the field.
TEST(FuzzRegression, SchemaRefusesNonUtf8FieldName) {
  const nlohmann::json json = ParseConfigText(
      "fields:\n  - {name: \"pr\xe9nom\", role: dense, type: float64}\n", "s.yaml");
  ExpectAiokError([&] { data::TableSchema::FromJson(json, "s.yaml"); }, ErrorKind::kConfig,
                  "is not UTF-8 text");
  data::TableSchema schema;
  schema.fields = {{"y", data::FieldRole::kLabel, {}}};
  schema.format.null_tokens = {"", "\xff"};
  ExpectAiokError([&] { schema.Validate("s.yaml"); }, ErrorKind::kConfig, "null token");
  schema.format.null_tokens = {""};
  schema.format.separator = '\xa7';
  ExpectAiokError([&] { schema.Validate("s.yaml"); }, ErrorKind::kConfig, "ASCII");
  // UTF-8 names are fine, and round-trip through the YAML a person edits.
  schema.format.separator = ',';
  schema.fields.push_back({"pr\xc3\xa9nom", data::FieldRole::kDense,
                           {data::ValueType::kFloat64, false, false}});
  const data::TableSchema again =
      data::TableSchema::FromJson(ParseConfigText(schema.ToYaml(), "y"), "y");
  EXPECT_EQ(again.ToJson(), schema.ToJson());
}

// config_fuzzer: an operator option holding a non-UTF-8 string. The message that quotes it
// (core/options.cpp, ReadKey) dumps it strictly: json type_error.316 escapes from
// etl::Pipeline. Fixed in 4b6d316.
TEST(FuzzRegression, OperatorOptionQuotesNonUtf8Value) {
  const etl::PipelineSpec spec = etl::PipelineSpec::FromJson(
      ParseConfigText("steps:\n  - columns: [I1..I13]\n    ops: [{clip: {min: \"\x8a\"}}]\n"
                      "  - columns: [C1..C26]\n    ops: [categorify]\n",
                      "p.yaml"),
      "p.yaml");
  const data::TableSchema criteo = data::CriteoTableSchema(true);
  ExpectAiokError(
      [&] {
        etl::Pipeline(spec, etl::DenseFieldNames(criteo), etl::CategoricalFieldNames(criteo),
                      "p.yaml");
      },
      ErrorKind::kConfig, "min");
}

// bundle_fuzzer: a bundle's pipeline.json (the fitted ETL state) with a wrong type or a
// missing key. etl/pipeline.cpp, Pipeline::LoadState, reads it with json::value() and at(),
// and operators' LoadState with get<>(): json type_error.302 and out_of_range.403 escape, so
// `aiok predict`/`serve` print a raw nlohmann message that names neither pipeline.json nor the
// key. Fixed in 4b6d316: the state is read through checked accessors.
const char* kStateSpec =
    R"({"steps": [{"columns": ["I1..I13"], "ops": [{"fill_missing": {"value": 0}}]},
                  {"columns": ["C1..C26"], "ops": [{"hash_bucket": {"buckets": 100}}]}]})";

TEST(FuzzRegression, PipelineStateVersionOfWrongType) {
  const data::TableSchema criteo = data::CriteoTableSchema(true);
  const nlohmann::json state = {{"format_version", "x"}, {"spec", nlohmann::json::parse(kStateSpec)}};
  ExpectAiokError(
      [&] {
        etl::Pipeline::LoadState(state, etl::DenseFieldNames(criteo),
                                 etl::CategoricalFieldNames(criteo), "pipeline.json");
      },
      ErrorKind::kInvalidInput, "pipeline.json");
}

TEST(FuzzRegression, PipelineStateWithoutSpec) {
  const data::TableSchema criteo = data::CriteoTableSchema(true);
  etl::Pipeline pipeline(etl::PipelineSpec::FromJson(nlohmann::json::parse(kStateSpec), "p"),
                         etl::DenseFieldNames(criteo), etl::CategoricalFieldNames(criteo), "p");
  pipeline.FinishFitFreeOperators();
  nlohmann::json state = pipeline.SaveState();
  state.erase("spec");
  ExpectAiokError(
      [&] {
        etl::Pipeline::LoadState(state, etl::DenseFieldNames(criteo),
                                 etl::CategoricalFieldNames(criteo), "pipeline.json");
      },
      ErrorKind::kInvalidInput, "pipeline.json");
}

// config_fuzzer: a column range whose numbers do not fit an int. etl/pipeline.cpp,
// ExpandColumns, parses them with std::stoi: std::out_of_range("stoi") escapes, a message with
// neither file nor step. Fixed in 4b6d316.
TEST(FuzzRegression, ColumnRangeBeyondInt) {
  const nlohmann::json json =
      ParseConfigText("steps:\n  - columns: [I99999999991..I13]\n    ops: [log1p]\n", "p.yaml");
  ExpectAiokError([&] { etl::PipelineSpec::FromJson(json, "p.yaml"); }, ErrorKind::kConfig,
                  "I99999999991..I13");
}

// config_fuzzer: a column range ending at INT_MAX. ExpandColumns' `for (int i = first;
// i <= last; ++i)` overflows (UBSan: signed integer overflow at pipeline.cpp:29) and never
// ends; any wide range (C1..C2000000000) makes billions of names first. Fixed in 4b6d316.
TEST(FuzzRegression, ColumnRangeEndingAtIntMax) {
  const nlohmann::json json = ParseConfigText(
      "steps:\n  - columns: [C2147483646..C2147483647]\n    ops: [categorify]\n", "p.yaml");
  ExpectAiokError([&] { etl::PipelineSpec::FromJson(json, "p.yaml"); }, ErrorKind::kConfig,
                  "C2147483646..C2147483647");
}

// request_rows_fuzzer: POST /v1/predict {"rows": []} to a bundle whose input has a timestamp
// field. etl/table_transformer.cpp, TableTransformer::Transform, computes
// `s.categorical.data() + hour` on the empty block (UBSan: applying non-zero offset to null
// pointer, table_transformer.cpp:190). Fixed in 4b6d316.
TEST(FuzzRegression, EmptyRequestThroughTheTransform) {
  const std::string dir = std::string(AIOK_SOURCE_DIR) + "/fuzz/data/tabular";
  serving::Bundle bundle;
  bundle.dir = dir;
  bundle.schema = nlohmann::json::parse(ReadFile(dir + "/schema.json"));
  bundle.pipeline_state = nlohmann::json::parse(ReadFile(dir + "/pipeline.json"));
  const serving::ServingPipeline pipeline(bundle);
  data::TableBatch rows =
      serving::ParseRequestRows(nlohmann::json::parse(R"({"rows": []})"), 100, pipeline);
  const data::FeatureBatch features = pipeline.Transform(std::move(rows), pipeline.input_schema());
  EXPECT_EQ(features.rows, 0);
}

}  // namespace
}  // namespace aiok
