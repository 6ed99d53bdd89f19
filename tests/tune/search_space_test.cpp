#include <gtest/gtest.h>

#include <cmath>

#include "aiok/core/config.h"
#include "aiok/core/error.h"
#include "aiok/tune/search_space.h"

namespace aiok::tune {
namespace {

// Declarations as a trainer would make them.
struct FakeOptions {
  std::string optimizer = "adam";
  double lr = 0.01;
  double beta1 = 0.9;
  int64_t batch_size = 512;
  std::string mlp = "";
  int64_t emb_dim = 8;
  bool shuffle = true;
  template <typename V>
  void Visit(V& v) {
    v.Text("optimizer", &optimizer, {"sgd", "adam", "lamb"}, "");
    v.Real("lr", &lr, 0.0, 10.0, "");
    v.Real("beta1", &beta1, 0.0, 0.999, "");
    v.Int("batch-size", &batch_size, 1, 1 << 20, "");
    v.Text("mlp", &mlp, {}, "");
    v.Int("emb-dim", &emb_dim, 1, 4096, "");
    v.Flag("shuffle", &shuffle, "");
  }
};

std::vector<DeclaredOption> Declared() {
  DeclarationCollector c;
  c.SetOwner("fake");
  FakeOptions o;
  o.Visit(c);
  return c.options();
}

SearchSpace Space(const std::string& yaml) {
  return SearchSpace::FromSpec(ParseConfigText(yaml, "test"), Declared(), "test");
}

void ExpectConfigError(const std::string& yaml, const std::string& needle) {
  try {
    Space(yaml);
    FAIL() << "expected an error for " << yaml;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SearchSpaceTest, TypesAndChoicesComeFromTheDeclaration) {
  const SearchSpace s = Space("optimizer: {}\nlr: {low: 0.001, high: 0.1, log: true}\n"
                              "shuffle: {}\nbatch-size: {low: 64, high: 4096, log: true}");
  ASSERT_EQ(s.dims(), 4u);
  for (const Param& p : s.params()) {
    if (p.name == "optimizer") {
      EXPECT_EQ(p.choices.size(), 3u);
    }
    if (p.name == "shuffle") {
      EXPECT_EQ(p.choices.size(), 2u);
    }
    if (p.name == "batch-size") {
      EXPECT_EQ(p.type, Param::Type::kInt);
    }
    if (p.name == "lr") {
      EXPECT_TRUE(p.log);
    }
  }
}

TEST(SearchSpaceTest, BadSpecsNameTheProblem) {
  ExpectConfigError("lrr: {low: 0.1, high: 1}", "did you mean 'lr'");
  ExpectConfigError("lr: {low: 0.1, high: 20}", "outside the declared bounds [0, 10]");
  ExpectConfigError("optimizer: {choices: [adam, adagrad]}", "not one of the declared");
  ExpectConfigError("lr: {low: 0.0, high: 1, log: true}", "log scale needs low > 0");
  ExpectConfigError("lr: {low: 0.1, hgih: 1}", "unknown field 'hgih'");
  ExpectConfigError("batch-size: {low: 1.5, high: 8}", "whole bounds");
  ExpectConfigError("beta1: {low: 0.8, high: 0.9, when: {optimizer: [adamm]}}\noptimizer: {}",
                    "not a choice");
  ExpectConfigError("mlp: {}", "free text");
  ExpectConfigError("emb-dim: {choices: [8, 5000]}", "outside the declared bounds");
}

TEST(SearchSpaceTest, ConditionsSwitchParametersOff) {
  const SearchSpace s =
      Space("optimizer: {choices: [sgd, adam]}\nbeta1: {low: 0.8, high: 0.9, when: {optimizer: "
            "adam}}");
  ASSERT_EQ(s.params()[0].name, "optimizer");  // parents first
  const nlohmann::json sgd = s.Decode({0.0, 0.5});
  EXPECT_EQ(sgd, nlohmann::json({{"optimizer", "sgd"}}));
  const nlohmann::json adam = s.Decode({1.0, 0.5});
  EXPECT_EQ(adam["optimizer"], "adam");
  EXPECT_DOUBLE_EQ(adam["beta1"].get<double>(), 0.85);
  EXPECT_TRUE(std::isnan(s.Encode(sgd)[1]));
}

TEST(SearchSpaceTest, NarrowingAwayAParentChoiceDropsItsChildren) {
  const nlohmann::json base = ParseConfigText(
      "optimizer: {}\nbeta1: {low: 0.8, high: 0.9, when: {optimizer: [lamb]}}", "base");
  const nlohmann::json narrowed =
      SearchSpace::MergeSpecs(base, ParseConfigText("optimizer: {choices: [sgd, adam]}", "o"));
  const SearchSpace s = SearchSpace::FromSpec(narrowed, Declared(), "test");
  ASSERT_EQ(s.dims(), 1u);
  EXPECT_EQ(s.params()[0].name, "optimizer");
}

TEST(SearchSpaceTest, MergeRemovesAndReplaces) {
  const nlohmann::json base = ParseConfigText("lr: {low: 0.001, high: 0.1, log: true}\n"
                                              "optimizer: {}", "base");
  nlohmann::json merged = SearchSpace::MergeSpecs(base, ParseConfigText("optimizer: null", "o"));
  EXPECT_FALSE(merged.contains("optimizer"));
  merged = SearchSpace::MergeSpecs(base, ParseConfigText("lr: {high: 0.05}", "o"));
  EXPECT_EQ(merged["lr"]["high"], 0.05);
  EXPECT_FALSE(merged["lr"].contains("low"));  // a new range replaces the old one
  EXPECT_EQ(merged["lr"]["log"], true);
  merged = SearchSpace::MergeSpecs(base, ParseConfigText("replace: true\nbeta1: {}", "o"));
  EXPECT_EQ(merged.size(), 1u);
}

TEST(SearchSpaceTest, LayerListsJoinWidthsAndTheLastElement) {
  const SearchSpace s = Space("emb-dim: {choices: [8, 16]}\n"
                              "mlp: {layers: [1, 3], width: [32, 256], last: emb-dim}");
  // Coordinates: find them by name.
  std::vector<double> point(s.dims(), 0.0);
  for (size_t i = 0; i < s.dims(); ++i) {
    const std::string& n = s.params()[i].name;
    if (n == "emb-dim")
      point[i] = 1;  // 16
    else if (n == "mlp.layers")
      point[i] = 0.5;  // 2 layers
    else
      point[i] = 1.0;  // widths at 256
  }
  const nlohmann::json a = s.Decode(point);
  EXPECT_EQ(a["mlp.layers"], 2);
  EXPECT_FALSE(a.contains("mlp.width3"));
  EXPECT_EQ(s.ToOptions(a)["mlp"], "256-256-16");
  EXPECT_EQ(s.ToOptions(a)["emb-dim"], 16);
}

TEST(SearchSpaceTest, DecodeEncodeRoundTripsAndIntsAreEvenlySpread) {
  const SearchSpace s = Space("batch-size: {low: 1, high: 4}\nlr: {low: 0.001, high: 0.1, log: "
                              "true}");
  std::vector<int> counts(5, 0);
  for (int i = 0; i < 400; ++i) {
    const double u = (i + 0.5) / 400;
    std::vector<double> point(2, u);
    const nlohmann::json a = s.Decode(point);
    ++counts[a["batch-size"].get<int>()];
    const nlohmann::json again = s.Decode(s.Encode(a));
    EXPECT_EQ(SearchSpace::Key(again), SearchSpace::Key(a));
  }
  for (int v = 1; v <= 4; ++v)
    EXPECT_EQ(counts[v], 100) << v;
}

TEST(SearchSpaceTest, CommandSpacesGiveTheirTypes) {
  const SearchSpace s = SearchSpace::FromSpec(
      ParseConfigText("x: {low: -5.0, high: 10}\nn: {low: 1, high: 9}\nc: {choices: [a, 1]}",
                      "t"),
      {}, "t");
  for (const Param& p : s.params()) {
    if (p.name == "x") {
      EXPECT_EQ(p.type, Param::Type::kFloat);
    }
    if (p.name == "n") {
      EXPECT_EQ(p.type, Param::Type::kInt);
    }
    if (p.name == "c") {
      EXPECT_EQ(p.type, Param::Type::kCategorical);
    }
  }
}

}  // namespace
}  // namespace aiok::tune
