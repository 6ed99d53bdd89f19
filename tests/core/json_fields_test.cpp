// Issue 15, defect 9: a field of the wrong type names the file, the field and the type
// expected, instead of nlohmann's type_error.302.
#include "aiok/core/json_fields.h"

#include <gtest/gtest.h>

namespace aiok {
namespace {

std::string ErrorOf(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(JsonFieldsTest, ReadsTypedFieldsAndDefaults) {
  const nlohmann::json doc = nlohmann::json::parse(
      R"({"format_version": 2, "name": "x", "ratio": 0.5, "big": 18446744073709551615,
          "on": true, "list": ["a", "b"], "splits": {"train": {"rows": [1, 2]}}, "gone": null})");
  const JsonField file(doc, "b/bundle.json");
  EXPECT_EQ(file["format_version"].Get<int>(), 2);
  EXPECT_EQ(file["format_version"].Get<double>(), 2.0);
  EXPECT_EQ(file["name"].Get<std::string>(), "x");
  EXPECT_EQ(file["ratio"].Get<double>(), 0.5);
  EXPECT_EQ(file["big"].Get<uint64_t>(), UINT64_MAX);
  EXPECT_TRUE(file["on"].Get<bool>());
  EXPECT_EQ(file["list"].Get<std::vector<std::string>>(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(file["splits"]["train"]["rows"].Get<std::vector<int64_t>>(),
            (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(file["splits"]["train"]["rows"][1].path(), "splits.train.rows[1]");
  EXPECT_EQ(file.Get<int64_t>("absent", 7), 7);
  EXPECT_EQ(file.Get<int64_t>("gone", 7), 7);  // null counts as absent
  EXPECT_FALSE(file.Has("gone"));
  EXPECT_EQ(file.Keys().front(), "big");  // sorted
}

TEST(JsonFieldsTest, AWrongTypeNamesFileFieldAndExpectedType) {
  const nlohmann::json doc = nlohmann::json::parse(
      R"({"format_version": "1", "files": {"model.pt": {"bytes": -3, "xxh3_128": 5}},
          "list": [1, "two"], "ratio": 1.5, "huge": 5000000000})");
  const JsonField file(doc, "b/bundle.json");
  EXPECT_EQ(ErrorOf([&] { file["format_version"].Get<int>(); }),
            "b/bundle.json: format_version: expected an integer, found \"1\" (a string)");
  EXPECT_EQ(ErrorOf([&] { file["files"]["model.pt"]["xxh3_128"].Get<std::string>(); }),
            "b/bundle.json: files.model.pt.xxh3_128: expected a string, found 5 (an integer)");
  EXPECT_EQ(ErrorOf([&] { file["files"]["model.pt"]["bytes"].Get<uint64_t>(); }),
            "b/bundle.json: files.model.pt.bytes: expected an integer from 0 to "
            "18446744073709551615, found -3 (an integer)");
  EXPECT_EQ(ErrorOf([&] { file["huge"].Get<int>(); }),
            "b/bundle.json: huge: expected an integer from -2147483648 to 2147483647, found "
            "5000000000 (an integer)");
  EXPECT_EQ(ErrorOf([&] { file["ratio"].Get<int64_t>(); }),
            "b/bundle.json: ratio: expected an integer, found 1.5 (a real number)");
  EXPECT_EQ(ErrorOf([&] { file["list"].Get<std::vector<std::string>>(); }),
            "b/bundle.json: list[0]: expected a string, found 1 (an integer)");
  EXPECT_EQ(ErrorOf([&] { file["model"]; }),
            "b/bundle.json: model: expected a value, found nothing (the field is missing)");
  EXPECT_EQ(ErrorOf([&] { file["ratio"]["x"]; }),
            "b/bundle.json: ratio: expected an object with the field 'x', found 1.5 (a real "
            "number)");
  EXPECT_EQ(ErrorOf([&] { file["list"][5]; }),
            "b/bundle.json: list: expected a list of more than 5 elements, found 2");
  EXPECT_EQ(ErrorOf([&] { file.Get<bool>("ratio", false); }),
            "b/bundle.json: ratio: expected true or false, found 1.5 (a real number)");
  const nlohmann::json list = nlohmann::json::array();
  EXPECT_EQ(ErrorOf([&] { JsonField(list, "run.yaml", ErrorKind::kConfig).ExpectObject(); }),
            "run.yaml: expected an object (a mapping of names to values), found [] (a list)");
}

TEST(JsonFieldsTest, TheErrorKindIsTheCallers) {
  const nlohmann::json doc = {{"seed", "x"}};
  try {
    JsonField(doc, "run.yaml", ErrorKind::kConfig)["seed"].Get<uint64_t>();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
  }
}

TEST(JsonFieldsTest, TextThatIsNotJsonNamesTheFileAndPlace) {
  const std::string message = ErrorOf([] { ParseJsonText("{\"a\": 1,\n", "ds/schema.json"); });
  EXPECT_EQ(message.rfind("ds/schema.json: not valid JSON: parse error at line 2", 0), 0u)
      << message;
  EXPECT_EQ(message.find("json.exception"), std::string::npos) << message;
}

TEST(JsonFieldsTest, ANumberBeyondDoubleNamesTheFile) {
  // nlohmann throws out_of_range.406 for it, not parse_error (a fuzzing finding in schema.json).
  const std::string message =
      ErrorOf([] { ParseJsonText("{\"rows\": 65e949}", "ds/schema.json"); });
  EXPECT_EQ(message.rfind("ds/schema.json: not valid JSON: number overflow parsing '65e949'", 0),
            0u)
      << message;
}

}  // namespace
}  // namespace aiok
