#include "aiok/serving/request_rows.h"

#include <gtest/gtest.h>

#include "aiok/core/error.h"

namespace aiok::serving {
namespace {

std::string ErrorOf(const nlohmann::json& request, int64_t max_rows = 100) {
  try {
    ParseRequestRows(request, max_rows);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RequestRowsTest, TsvLinesAndNamedFieldsGiveTheSameRow) {
  std::string line = "5\t\t3";                   // I1..I3
  line += std::string(10, '\t');                  // I4..I13 empty
  line += "\t68fd1e64";                           // C1
  line += "\t" + std::string("") + "\tA0";        // C2 empty, C3 = 0xa0
  line += std::string(23, '\t');                  // C4..C26 empty
  const nlohmann::json request = {
      {"rows",
       {line, {{"I1", 5}, {"I2", nullptr}, {"I3", "3"}, {"C1", "68fd1e64"}, {"C2", ""},
               {"C3", "a0"}}}}};
  const data::CriteoBatch batch = ParseRequestRows(request, 10);
  ASSERT_EQ(batch.rows, 2);
  for (int d = 0; d < data::kCriteoDense; ++d)
    EXPECT_EQ(batch.dense[d][0], batch.dense[d][1]) << "I" << d + 1;
  for (int c = 0; c < data::kCriteoCategorical; ++c)
    EXPECT_EQ(batch.category[c][0], batch.category[c][1]) << "C" << c + 1;
  EXPECT_EQ(batch.dense[0][0], 5);
  EXPECT_EQ(batch.dense[1][0], data::kMissingDense);
  EXPECT_EQ(batch.category[0][0], 0x68fd1e64);
  EXPECT_EQ(batch.category[1][0], data::kMissingCategory);
  EXPECT_EQ(batch.category[2][0], 0xa0);
  EXPECT_EQ(batch.category[25][0], data::kMissingCategory);
}

TEST(RequestRowsTest, ErrorsNameTheRowAndTheField) {
  EXPECT_NE(ErrorOf({{"rows", {{{"I1", 1}}, {{"I4", "x"}}}}}).find("row 1, field I4"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"C2", "xyz"}}}}}).find("row 0, field C2"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"C2", 12}}}}}).find("hex"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"I1", 1.5}}}}}).find("integer"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{{"I99", 1}}}}}).find("unknown field 'I99'"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {"1\t2\t3"}}}).find("expected 39 TAB-separated fields"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {"1\n2"}}}).find("row 0"), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {42}}}).find("row 0: expected a TSV line"), std::string::npos);
  EXPECT_NE(ErrorOf({{"data", {}}}).find("\"rows\""), std::string::npos);
  EXPECT_NE(ErrorOf({{"rows", {{}, {}, {}}}}, 2).find("limit is 2"), std::string::npos);
}

TEST(RequestRowsTest, TooManyRowsIsItsOwnKindOfError) {
  // The server answers 413 for this kind and 400 for malformed rows.
  try {
    ParseRequestRows({{"rows", {{}, {}, {}}}}, 2);
    FAIL() << "3 rows over a limit of 2 were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kTooLarge);
  }
  try {
    ParseRequestRows({{"rows", {{{"I1", 1.5}}}}}, 2);
    FAIL() << "a fractional I1 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  }
}

TEST(RequestRowsTest, AnEmptyObjectIsARowWithEveryFieldMissing) {
  const data::CriteoBatch batch = ParseRequestRows({{"rows", {nlohmann::json::object()}}}, 1);
  ASSERT_EQ(batch.rows, 1);
  EXPECT_EQ(batch.dense[12][0], data::kMissingDense);
  EXPECT_EQ(batch.category[25][0], data::kMissingCategory);
}

}  // namespace
}  // namespace aiok::serving
