#include "aiok/core/error.h"

#include <gtest/gtest.h>

namespace aiok {
namespace {

TEST(Error, CarriesKindMessageAndContext) {
  Error error(ErrorKind::kIo, "cannot open 'x'");
  error.AddContext("while reading data").AddContext("in stage etl");
  EXPECT_EQ(error.kind(), ErrorKind::kIo);
  EXPECT_EQ(error.message(), "cannot open 'x'");
  EXPECT_STREQ(error.what(), "cannot open 'x' (while reading data; in stage etl)");
}

TEST(Error, CheckThrowsFormattedMessageOfItsKind) {
  try {
    AIOK_CHECK(1 + 1 == 3, ErrorKind::kConfig, "option '{}' must be {}", "rows", 3);
    FAIL() << "AIOK_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_STREQ(e.what(), "option 'rows' must be 3");
  }
  EXPECT_NO_THROW(AIOK_CHECK(true, ErrorKind::kConfig, "never"));
}

TEST(Error, AssertNamesTheSourceLocation) {
  try {
    AIOK_ASSERT(false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("error_test.cpp"), std::string::npos);
  }
}

TEST(Error, LocationFormatsWhatIsKnown) {
  EXPECT_EQ((TextLocation{"a.tsv", 12, 3}).ToString(), "a.tsv:12:3");
  EXPECT_EQ((TextLocation{"a.tsv", 12, 0}).ToString(), "a.tsv:12");
  EXPECT_EQ((TextLocation{"a.tsv", 0, 0}).ToString(), "a.tsv");
  try {
    ThrowAt(TextLocation{"a.tsv", 2, 5}, "expected {} hex digits", 8);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_STREQ(e.what(), "a.tsv:2:5: expected 8 hex digits");
  }
}

}  // namespace
}  // namespace aiok
