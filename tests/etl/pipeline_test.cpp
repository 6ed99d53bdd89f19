#include "aiok/etl/pipeline.h"

#include <gtest/gtest.h>

#include "aiok/core/config.h"
#include "aiok/core/error.h"

namespace aiok::etl {
namespace {

const std::vector<std::string> kDense = {"I1", "I2"};
const std::vector<std::string> kCats = {"C1", "C2"};

std::string BuildError(const std::string& yaml) {
  try {
    const PipelineSpec spec = PipelineSpec::FromJson(ParseConfigText(yaml, "p.yaml"), "p.yaml");
    Pipeline pipeline(spec, kDense, kCats, "p.yaml");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig) << e.what();
    return e.what();
  }
  return "";
}

TEST(Pipeline, YamlWithRangesAndShortOps) {
  const std::string yaml = R"(
steps:
  - columns: [I1..I2]
    ops:
      - fill_missing: {strategy: median}
      - normalize: {method: minmax}
  - columns: C1..C2
    ops: [{categorify: {freq_threshold: 2, max_size: 10}}]
)";
  const PipelineSpec spec = PipelineSpec::FromJson(ParseConfigText(yaml, "p.yaml"), "p.yaml");
  Pipeline pipeline(spec, kDense, kCats, "p.yaml");
  EXPECT_EQ(pipeline.dense()[1].column, "I2");
  EXPECT_EQ(pipeline.dense()[1].ops.size(), 2u);
  EXPECT_EQ(pipeline.FitPhases(), 2);  // median, then normalize on the filled values
  EXPECT_EQ(pipeline.categorical()[0].ops[0]->Options()["max_size"], 10);
  // The spec round-trips through JSON.
  EXPECT_EQ(PipelineSpec::FromJson(spec.ToJson(), "again").ToJson(), spec.ToJson());
}

TEST(Pipeline, CriteoPresetIsValid) {
  std::vector<std::string> dense, cats;
  for (int d = 1; d <= 13; ++d)
    dense.push_back("I" + std::to_string(d));
  for (int c = 1; c <= 26; ++c)
    cats.push_back("C" + std::to_string(c));
  Pipeline pipeline(CriteoPreset(3), dense, cats, "preset");
  EXPECT_EQ(pipeline.FitPhases(), 1);
  EXPECT_EQ(pipeline.categorical()[25].ops[0]->Options()["freq_threshold"], 3);
}

TEST(Pipeline, MistakesNameTheStepAndColumn) {
  const std::string dense_ok = "  - columns: [I1, I2]\n    ops: [{fill_missing: {}}]\n";
  const std::string cats_ok = "  - columns: [C1, C2]\n    ops: [categorify]\n";
  EXPECT_NE(BuildError("steps:\n" + dense_ok).find("no step handles column(s) C1, C2"),
            std::string::npos);
  EXPECT_NE(
      BuildError("steps:\n" + dense_ok + cats_ok + "  - columns: [C1]\n    ops: [categorify]\n")
          .find("step 3 (C1): column already handled by step 2"),
      std::string::npos);
  EXPECT_NE(
      BuildError("steps:\n" + dense_ok + cats_ok.substr(0, 19) + "3]\n    ops: [categorify]\n")
          .find("step 2 (C3): unknown column"),
      std::string::npos);
  EXPECT_NE(BuildError("steps:\n  - columns: [I1, I2]\n    ops: [log1p]\n" + cats_ok)
                .find("step 1 (I1): a dense column needs fill_missing"),
            std::string::npos);
  EXPECT_NE(BuildError("steps:\n" + dense_ok + "  - columns: [C1, C2]\n    ops: [log1p]\n")
                .find("step 2 (C1): operator 'log1p' reads dense values, but the column holds "
                      "categorical values"),
            std::string::npos);
  // Kinds follow the chain: a bucketizer writes ids, which log1p cannot read.
  EXPECT_NE(BuildError("steps:\n  - columns: [I1, I2]\n    ops: [{bucketize: {quantiles: 4}}, "
                       "log1p]\n" + cats_ok)
                .find("operator 'log1p' reads dense values, but 'bucketize' writes categorical "
                      "values"),
            std::string::npos);
  EXPECT_NE(BuildError("steps:\n  - columns: [I1, I2]\n    ops: [{bucketize: {quantiles: 4, "
                       "boundaries: '1,2'}}]\n" + cats_ok)
                .find("give quantiles (fitted) or boundaries (fixed), one of them"),
            std::string::npos);
  // Several inputs: a derived step, starting with an operator that reads several columns.
  EXPECT_NE(BuildError("steps:\n" + dense_ok + "  - columns: [C1, C2]\n    ops: [hashed_cross]\n")
                .find("'hashed_cross' reads several columns: it goes first in a step with 'inputs'"),
            std::string::npos);
  EXPECT_NE(BuildError("steps:\n" + dense_ok + cats_ok +
                       "  - inputs: [C1, I1]\n    output: C1\n    ops: [hashed_cross]\n")
                .find("the output name 'C1' is already a field"),
            std::string::npos);
  EXPECT_NE(BuildError("steps:\n" + dense_ok + cats_ok +
                       "  - inputs: [C1, C9]\n    ops: [hashed_cross]\n")
                .find("unknown input column 'C9'"),
            std::string::npos);
  EXPECT_NE(BuildError("steps:\n" + dense_ok + cats_ok +
                       "  - inputs: [C1, C2]\n    ops: [categorify]\n")
                .find("starts with an operator that reads several columns"),
            std::string::npos);
  EXPECT_NE(BuildError("steps:\n" + dense_ok + "  - columns: [C1, C2]\n    ops: [categorfy]\n")
                .find("unknown operator 'categorfy'"),
            std::string::npos);
  EXPECT_NE(BuildError("steps:\n  - columns: [I1, I2]\n    opz: []\n").find("unknown key 'opz'"),
            std::string::npos);
  EXPECT_NE(BuildError("steps: [\n").find("p.yaml:"), std::string::npos);
}

TEST(Config, YamlScalarsAndQuotedStrings) {
  const auto json = ParseConfigText("a: 3\nb: 2.5\nc: true\nd: '3'\ne: text\nf: -.inf\n", "x");
  EXPECT_TRUE(json["a"].is_number_integer());
  EXPECT_EQ(json["b"], 2.5);
  EXPECT_EQ(json["c"], true);
  EXPECT_EQ(json["d"], "3");
  EXPECT_EQ(json["e"], "text");
  EXPECT_TRUE(std::isinf(json["f"].get<double>()));
  EXPECT_EQ(ParseConfigText(ToYaml(json), "y"), json);
}

}  // namespace
}  // namespace aiok::etl
