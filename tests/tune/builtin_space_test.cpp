// Every registered model's built-in search space: it builds against the model's real
// declarations (aiok train's), has parameters of the model's own, and every configuration it
// samples is one the model accepts — the model is built from it on a small layout.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "aiok/core/error.h"
#include "aiok/core/options.h"
#include "aiok/loader/data_loader.h"
#include "aiok/models/model.h"
#include "aiok/train/optimizer_options.h"
#include "aiok/train/trainer.h"
#include "aiok/tune/sampler.h"
#include "aiok/tune/search_space.h"
#include "aiok/tune/train_study.h"

namespace aiok::tune {
namespace {

// Dense fields, targets with histories sharing their vocabularies (DIEN's pairs), and a plain
// categorical field: a layout every model can be built for.
data::FeatureLayout SmallLayout() {
  data::FeatureLayout layout;
  layout.dense = {"d1", "d2", "d3"};
  layout.categorical = {{"user_id", 30}, {"item_id", 60}, {"cat_id", 12}};
  layout.jagged = {{"hist_items", data::JaggedFeature::Kind::kSequence, 60, 20},
                   {"hist_cats", data::JaggedFeature::Kind::kSequence, 12, 20}};
  return layout;
}

SearchSpace BuiltinSpace(const std::string& model) {
  const std::vector<DeclaredOption> declared = TrainDeclarations(model);
  return SearchSpace::FromSpec(BuiltinSpaceSpec(model, declared), declared,
                               "built-in space of " + model);
}

const Param* Find(const SearchSpace& space, const std::string& name) {
  for (const Param& p : space.params())
    if (p.name == name)
      return &p;
  return nullptr;
}

TEST(BuiltinSpaceTest, EveryModelHasItsOwnSpaceAndItsSamplesBuildTheModel) {
  const data::FeatureLayout layout = SmallLayout();
  const std::vector<std::string> models = models::BuiltinModels().Names();
  ASSERT_GE(models.size(), 3u);
  for (const std::string& model : models) {
    SCOPED_TRACE(model);
    const std::vector<DeclaredOption> declared = TrainDeclarations(model);
    const SearchSpace space = BuiltinSpace(model);
    // Architecture parameters of the model itself, not only the shared optimizer ranges.
    std::set<std::string> own;
    for (const Param& p : space.params()) {
      const std::string option = p.name.substr(0, p.name.find('.'));
      const DeclaredOption* d = FindDeclared(declared, option);
      ASSERT_NE(d, nullptr) << p.name;
      if (d->owner == model)
        own.insert(option);
    }
    EXPECT_GE(own.size(), 3u) << "the built-in space of " << model << " tunes too little of it";
    EXPECT_GE(space.layer_lists().size(), 1u) << "no MLP widths";

    std::mt19937_64 rng(7);
    std::set<std::string> seen;
    for (int draw = 0; draw < 40; ++draw) {
      const nlohmann::json assignment = space.Decode(RandomPoint(space, rng));
      seen.insert(SearchSpace::Key(assignment));
      const nlohmann::json options = space.ToOptions(assignment);
      nlohmann::json model_options = nlohmann::json::object();
      nlohmann::json trainer_options = nlohmann::json::object();
      for (const auto& [key, value] : options.items()) {
        const DeclaredOption* d = FindDeclared(declared, key);
        ASSERT_NE(d, nullptr) << key;
        (d->owner == model ? model_options : trainer_options)[key] = value;
      }
      // The trainer's, loader's and optimizer's keys within their declared bounds...
      train::TrainOptions train;
      loader::LoaderOptions loader;
      train::OptimizerOptions optimizer;
      auto mine = [&](const auto& options_struct) {
        nlohmann::json out = nlohmann::json::object();
        const nlohmann::json keys = OptionsToJson(options_struct);
        for (const auto& [key, value] : trainer_options.items())
          if (keys.contains(key))
            out[key] = value;
        return out;
      };
      EXPECT_NO_THROW({
        OptionsFromJson(train, mine(train), "train");
        OptionsFromJson(loader, mine(loader), "loader");
        OptionsFromJson(optimizer, mine(optimizer), "optimizer");
        ValidateOptions(train, "train");
        ValidateOptions(loader, "loader");
        ValidateOptions(optimizer, "optimizer");
      }) << options.dump();
      // ...and a model built from its own.
      try {
        const nlohmann::json resolved =
            models::BuiltinModels().ResolveOptions(model, model_options, model);
        const auto built = models::BuiltinModels().Create(model, layout, resolved);
        EXPECT_EQ(built->name(), model);
      } catch (const Error& e) {
        ADD_FAILURE() << options.dump() << ": " << e.what();
      }
    }
    EXPECT_GE(seen.size(), 35u) << "samples repeat: the space is too small";
  }
}

TEST(BuiltinSpaceTest, ConditionsOfWideAndDeepAndDien) {
  const SearchSpace wnd = BuiltinSpace("wnd");
  for (const char* ftrl_only : {"wide-l1", "wide-l2"}) {
    const Param* p = Find(wnd, ftrl_only);
    ASSERT_NE(p, nullptr) << ftrl_only;
    ASSERT_EQ(p->conditions.size(), 1u);
    EXPECT_EQ(p->conditions[0].parent, "wide-update");
    EXPECT_EQ(p->conditions[0].values, std::vector<nlohmann::json>{"ftrl"});
  }
  const SearchSpace dien = BuiltinSpace("dien");
  ASSERT_NE(Find(dien, "aux-weight"), nullptr);
  // With the auxiliary loss off, its MLP's shape is not a parameter of the trial.
  std::vector<double> point(dien.dims(), 0.5);
  for (size_t i = 0; i < dien.dims(); ++i)
    if (dien.params()[i].name == "aux-weight")
      point[i] = 0;  // the choice 0.0
  nlohmann::json off = dien.Decode(point);
  EXPECT_EQ(off["aux-weight"], 0.0);
  EXPECT_FALSE(off.contains("aux-mlp.layers")) << off.dump();
  EXPECT_FALSE(dien.ToOptions(off).contains("aux-mlp"));
  for (size_t i = 0; i < dien.dims(); ++i)
    if (dien.params()[i].name == "aux-weight")
      point[i] = 3;  // the choice 1.0
  const nlohmann::json on = dien.Decode(point);
  EXPECT_TRUE(on.contains("aux-mlp.layers")) << on.dump();
  EXPECT_TRUE(dien.ToOptions(on).contains("aux-mlp"));
}

TEST(BuiltinSpaceTest, TrialsBecomeTrainFlags) {
  EXPECT_EQ(
      TrainFlags({{"lr", 0.01}, {"mlp", "64-32"}, {"shuffle", false}, {"keep-best", true}}),
      (std::vector<std::string>{"--keep-best", "--lr", "0.01", "--mlp", "64-32", "--no-shuffle"}));
  EXPECT_EQ(ShellQuote("a b'c"), "'a b'\\''c'");
  EXPECT_EQ(ShellQuote("64-32"), "64-32");
}

}  // namespace
}  // namespace aiok::tune
