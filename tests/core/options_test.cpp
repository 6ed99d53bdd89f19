#include "aiok/core/options.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "aiok/core/error.h"

namespace aiok {
namespace {

struct ToyOptions {
  int64_t rows = 10;
  double rate = 0.5;
  std::string mode = "fast";
  bool shuffle = true;
  template <typename V>
  void Visit(V& v) {
    v.Int("rows", &rows, 1, 100, "rows");
    v.Real("rate", &rate, 0.0, 1.0, "rate");
    v.Text("mode", &mode, {"fast", "exact"}, "mode");
    v.Flag("shuffle", &shuffle, "shuffle");
  }
};

std::string ValidationMessage(ToyOptions options) {
  try {
    ValidateOptions(options, "toy");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    return e.what();
  }
  return "";
}

TEST(Options, DefaultsAreValid) { EXPECT_EQ(ValidationMessage(ToyOptions{}), ""); }

TEST(Options, EveryBadValueNamesItsKeyBoundsAndValue) {
  ToyOptions bad_rows;
  bad_rows.rows = 0;
  EXPECT_EQ(ValidationMessage(bad_rows),
            "toy: option 'rows' must be an integer in [1, 100], got 0");
  ToyOptions bad_rate;
  bad_rate.rate = 1.5;
  EXPECT_EQ(ValidationMessage(bad_rate), "toy: option 'rate' must be a number in [0, 1], got 1.5");
  ToyOptions bad_mode;
  bad_mode.mode = "slow";
  EXPECT_EQ(ValidationMessage(bad_mode),
            "toy: option 'mode' must be one of fast, exact, got 'slow'");
}

TEST(Options, JsonRoundTrip) {
  ToyOptions options;
  options.rows = 42;
  options.rate = 0.25;
  options.mode = "exact";
  options.shuffle = false;
  const nlohmann::json json = OptionsToJson(options);
  ToyOptions loaded;
  OptionsFromJson(loaded, json, "toy");
  EXPECT_EQ(loaded.rows, 42);
  EXPECT_EQ(loaded.rate, 0.25);
  EXPECT_EQ(loaded.mode, "exact");
  EXPECT_FALSE(loaded.shuffle);
}

TEST(Options, UnknownKeyListsValidKeys) {
  ToyOptions options;
  try {
    OptionsFromJson(options, nlohmann::json{{"rowz", 3}}, "toy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "toy: unknown option 'rowz' (valid: rows, rate, mode, shuffle)");
  }
}

TEST(Options, WrongJsonTypeIsRejected) {
  ToyOptions options;
  EXPECT_THROW(OptionsFromJson(options, nlohmann::json{{"rows", "ten"}}, "toy"), Error);
  EXPECT_THROW(OptionsFromJson(options, nlohmann::json{{"rows", 1.5}}, "toy"), Error);
  EXPECT_THROW(OptionsFromJson(options, nlohmann::json::array(), "toy"), Error);
}

}  // namespace
}  // namespace aiok
