#include "aiok/serving/request_rows.h"

#include <gtest/gtest.h>

#include "aiok/core/error.h"
#include "aiok/data/dataset.h"
#include "aiok/etl/pipeline.h"
#include "aiok/etl/table_transformer.h"

namespace aiok::serving {
namespace {

// A serving pipeline over Criteo's input that needs no fit: I -> fill_missing(0), C -> hash.
const ServingPipeline& CriteoPipeline() {
  static const ServingPipeline pipeline = [] {
    const data::TableSchema schema = data::CriteoTableSchema(true);
    const nlohmann::json spec = {
        {"steps",
         {{{"columns", {"I1..I13"}}, {"ops", {{{"fill_missing", {{"value", 0}}}}}}},
          {{"columns", {"C1..C26"}}, {"ops", {{{"hash_bucket", {{"buckets", 1000}}}}}}}}}};
    etl::Pipeline fitted(etl::PipelineSpec::FromJson(spec, "test"), etl::DenseFieldNames(schema),
                         etl::CategoricalFieldNames(schema), "test");
    fitted.FinishFitFreeOperators();
    Bundle bundle;
    bundle.dir = "test-bundle";
    bundle.pipeline_state = fitted.SaveState();
    data::DatasetSchema dataset;
    dataset.input_schema = schema.ToJson();
    bundle.schema = dataset.ToJson();
    return ServingPipeline(bundle);
  }();
  return pipeline;
}

std::string ErrorOf(const nlohmann::json& request, int64_t max_rows = 100) {
  try {
    ParseRequestRows(request, max_rows, CriteoPipeline());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Field `name`'s column in the pipeline's input order.
const data::ColumnValues& Column(const data::TableBatch& batch, const std::string& name) {
  return batch.columns.at(static_cast<size_t>(CriteoPipeline().input_schema().Find(name)));
}

TEST(RequestRowsTest, TextLinesAndNamedFieldsGiveTheSameRow) {
  std::string line = "5\t\t3";                   // I1..I3
  line += std::string(10, '\t');                  // I4..I13 empty
  line += "\t68fd1e64";                           // C1
  line += "\t" + std::string("") + "\tA0";        // C2 empty, C3 = 0xa0
  line += std::string(23, '\t');                  // C4..C26 empty
  const nlohmann::json request = {
      {"rows",
       {line, {{"I1", 5}, {"I2", nullptr}, {"I3", "3"}, {"C1", "68fd1e64"}, {"C2", ""},
               {"C3", "a0"}}}}};
  const data::TableBatch batch = ParseRequestRows(request, 10, CriteoPipeline());
  ASSERT_EQ(batch.rows, 2);
  for (const data::Field& field : CriteoPipeline().RowSchema(false).fields) {
    const data::ColumnValues& c = Column(batch, field.name);
    EXPECT_EQ(c.valid[0], c.valid[1]) << field.name;
    if (field.type.value == data::ValueType::kInt64)
      EXPECT_EQ(c.ints[0], c.ints[1]) << field.name;
    else
      EXPECT_EQ(c.uints[0], c.uints[1]) << field.name;
  }
  EXPECT_EQ(Column(batch, "I1").ints[0], 5);
  EXPECT_EQ(Column(batch, "I2").valid[0], 0);
  EXPECT_EQ(Column(batch, "C1").uints[0], 0x68fd1e64u);
  EXPECT_EQ(Column(batch, "C2").valid[0], 0);
  EXPECT_EQ(Column(batch, "C3").uints[0], 0xa0u);
  EXPECT_EQ(Column(batch, "C26").valid[0], 0);
  // And the two rows become the same features.
  const data::FeatureBatch features = CriteoPipeline().Transform(
      ParseRequestRows(request, 10, CriteoPipeline()), CriteoPipeline().input_schema());
  for (int c = 0; c < 26; ++c)
    EXPECT_EQ(features.categorical[c], features.categorical[26 + c]) << "C" << c + 1;
  for (int d = 0; d < 13; ++d)
    EXPECT_EQ(features.dense[d], features.dense[13 + d]) << "I" << d + 1;
}

TEST(RequestRowsTest, ErrorsNameTheRowAndTheField) {
  EXPECT_NE(ErrorOf({{"rows", {{{"I1", 1}}, {{"I4", "x"}}}}}).find("row 1, field I4"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"C2", "xyz"}}}}}).find("row 0, field C2"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"C2", 12}}}}}).find("hex"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"I1", 1.5}}}}}).find("integer"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"I99", 1}}}}}).find("unknown field 'I99'"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"C33", 1}}}}}).find("did you mean 'C3'"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {"1\t2\t3"}}}).find("expected 39 fields, found 3"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {"1\n2"}}}).find("row 0"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {42}}}).find("row 0: expected an object of named fields or a text line"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"data", {}}}).find("\"rows\""), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{}, {}, {}}}}, 2).find("limit is 2"), std::string::npos);
}

TEST(RequestRowsTest, TooManyRowsIsItsOwnKindOfError) {
  // The server answers 413 for this kind and 400 for malformed rows.
  try {
    ParseRequestRows({{"rows", {{}, {}, {}}}}, 2, CriteoPipeline());
    FAIL() << "3 rows over a limit of 2 were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kTooLarge);
  }
  try {
    ParseRequestRows({{"rows", {{{"I1", 1.5}}}}}, 2, CriteoPipeline());
    FAIL() << "a fractional I1 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  }
}

TEST(RequestRowsTest, AnEmptyObjectIsARowWithEveryFieldMissing) {
  const data::TableBatch batch =
      ParseRequestRows({{"rows", {nlohmann::json::object()}}}, 1, CriteoPipeline());
  ASSERT_EQ(batch.rows, 1);
  EXPECT_EQ(Column(batch, "I13").valid[0], 0);
  EXPECT_EQ(Column(batch, "C26").valid[0], 0);
}

}  // namespace
}  // namespace aiok::serving
