// The model registry, and DLRM built through it from feature layouts of any shape, against a
// slow reference written with plain libtorch ops (embedding, embedding_bag, bmm).
#include "aiok/models/model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "aiok/core/error.h"
#include "aiok/models/dlrm.h"
#include "model_test_data.h"

namespace aiok::models {
namespace {

using data::JaggedFeature;

// DLRM's forward the slow way: one embedding (one-id fields) or embedding_bag (list fields)
// per table, on copies of the tables that autograd tracks; the interaction with bmm and a
// triangle gather; the model's own MLPs.
struct Reference {
  std::vector<torch::Tensor> tables;  // leaves with gradients

  torch::Tensor Forward(DlrmImpl& model, const data::FeatureBatch& batch) {
    const DlrmArchitecture& a = model.architecture();
    const FusedEmbeddingImpl& embedding = *model.embedding();
    const int64_t rows = batch.rows;
    const auto singles = static_cast<int64_t>(a.table_sizes.size());
    std::vector<torch::Tensor> vectors;
    if (a.dense_features > 0) {
      const torch::Tensor dense =
          torch::from_blob(const_cast<float*>(batch.dense), {rows, a.dense_features});
      vectors.push_back(model.bottom()->forward(dense));
    }
    for (int64_t t = 0; t < a.fields(); ++t) {
      const int64_t size = embedding.options().table_sizes[t];
      tables.push_back(embedding.weight.narrow(0, embedding.offsets()[t], size)
                           .detach()
                           .clone()
                           .requires_grad_());
      if (t < singles) {
        const torch::Tensor ids = torch::from_blob(const_cast<int32_t*>(batch.categorical),
                                                   {rows, singles}, torch::kInt32)
                                      .select(1, t)
                                      .to(torch::kInt64);
        vectors.push_back(torch::embedding(tables.back(), ids));
      } else {
        const data::JaggedIds& list = batch.jagged[t - singles];
        const int64_t n = list.offsets[rows] - list.offsets[0];
        const torch::Tensor values =
            torch::from_blob(const_cast<int32_t*>(list.values + list.offsets[0]), {n},
                             torch::kInt32)
                .to(torch::kInt64);
        const torch::Tensor offsets =
            torch::from_blob(const_cast<int64_t*>(list.offsets), {rows}, torch::kInt64) -
            list.offsets[0];
        const bool mean = a.list_pooling[t - singles] == Pooling::kMean;
        vectors.push_back(
            std::get<0>(torch::embedding_bag(tables.back(), values, offsets, false, mean ? 1 : 0)));
      }
    }
    const torch::Tensor stacked = torch::stack(vectors, 1);  // [rows, vectors, d]
    torch::Tensor z;
    if (a.interaction == Interaction::kCat) {
      z = stacked.reshape({rows, -1});
    } else {
      const int64_t v = stacked.size(1);
      const torch::Tensor lower = torch::tril_indices(v, v, -1);
      const torch::Tensor products = torch::bmm(stacked, stacked.transpose(1, 2));
      z = torch::cat({vectors[0], products.index({torch::indexing::Slice(), lower[0], lower[1]})},
                     1);
    }
    return model.top()->forward(z).squeeze(1);
  }
};

TEST(ModelRegistry, ListsTheBuiltinModelsAndResolvesTheirOptions) {
  ModelRegistry registry;
  RegisterBuiltinModels(registry);
  EXPECT_EQ(registry.Names(), (std::vector<std::string>{"dien", "dlrm", "wnd"}));
  EXPECT_NE(registry.Description("dlrm").find("DLRM"), std::string::npos);
  const nlohmann::json defaults = registry.ResolveOptions("dlrm", nullptr, "test");
  EXPECT_EQ(defaults.at("preset"), "dlrm-kaggle");
  EXPECT_EQ(defaults.at("emb-dim"), 0);
  EXPECT_EQ(defaults.at("pooling"), "sum");
  const nlohmann::json some = registry.ResolveOptions("dlrm", {{"emb-dim", 8}}, "test");
  EXPECT_EQ(some.at("emb-dim"), 8);
  EXPECT_EQ(some.at("preset"), "dlrm-kaggle");
}

TEST(ModelRegistry, AnUnknownNameListsTheValidOnes) {
  const ModelRegistry& registry = BuiltinModels();
  const data::FeatureLayout layout = Layout(2, {5}, {});
  for (const std::string& message :
       {ErrorOf([&] { registry.Create("gbdt", layout, nullptr); }),
        ErrorOf([&] { registry.FromArchitecture("gbdt", nlohmann::json::object()); }),
        ErrorOf([&] { registry.DefaultOptions("gbdt"); })}) {
    EXPECT_NE(message.find("unknown model 'gbdt' (valid: dien, dlrm, wnd)"), std::string::npos)
        << message;
  }
}

TEST(ModelRegistry, BadOptionsNameTheKeyAndTheValidOnes) {
  const ModelRegistry& registry = BuiltinModels();
  const data::FeatureLayout layout = Layout(2, {5}, {});
  std::string message = ErrorOf([&] { registry.Create("dlrm", layout, {{"emb-dim", -1}}); });
  EXPECT_NE(message.find("'emb-dim'"), std::string::npos) << message;
  message = ErrorOf([&] { registry.Create("dlrm", layout, {{"colour", "red"}}); });
  EXPECT_NE(message.find("unknown option 'colour'"), std::string::npos) << message;
  EXPECT_NE(message.find("preset"), std::string::npos) << message;
  message = ErrorOf([&] { registry.Create("dlrm", layout, {{"pooling", "max"}}); });
  EXPECT_NE(message.find("'pooling' must be one of sum, mean"), std::string::npos) << message;
  message = ErrorOf([&] { registry.Create("dlrm", Layout(2, {}, {}), nullptr); });
  EXPECT_NE(message.find("no categorical or list field"), std::string::npos) << message;
  message = ErrorOf([&] { registry.Create("dlrm", Layout(0, {5}, {}), {{"mlp-bot", "8-4"}}); });
  EXPECT_NE(message.find("no dense field"), std::string::npos) << message;
}

// The model through the registry against the reference: forward, the sparse gradient, the
// inference engine, and the architecture round trip.
void CheckAgainstReference(const data::FeatureLayout& layout, const nlohmann::json& options) {
  SCOPED_TRACE(layout.ToJson().dump() + " " + options.dump());
  torch::manual_seed(3);
  std::unique_ptr<Model> model = BuiltinModels().Create("dlrm", layout, options);
  auto dlrm = std::dynamic_pointer_cast<DlrmImpl>(model->module());
  ASSERT_TRUE(dlrm);
  {
    // Trained-looking tables, so that products of embeddings matter.
    torch::NoGradGuard no_grad;
    dlrm->embedding()->weight.normal_(0.0, 0.5);
  }
  const data::FeatureBatch batch = RandomBatch(layout, 37, 4);
  const torch::Tensor got = model->Forward(batch);
  Reference reference;
  const torch::Tensor expected = reference.Forward(*dlrm, batch);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5))
      << (got - expected).abs().max().item<float>();

  // Backward leaves the reference's table gradients as (unique rows, summed rows).
  const torch::Tensor mix = torch::randn({batch.rows});
  (got * mix).sum().backward();
  (expected * mix).sum().backward();
  const SparseGradient& sparse = dlrm->embedding()->gradient();
  torch::Tensor dense_from_sparse = torch::zeros_like(dlrm->embedding()->weight);
  for (int64_t u = 0; u < sparse.size(); ++u) {
    ASSERT_TRUE(u == 0 || sparse.ids[u] > sparse.ids[u - 1]) << "ids unique and ascending";
    dense_from_sparse[sparse.ids[u]] =
        torch::from_blob(const_cast<float*>(sparse.rows.data()) + u * sparse.dim, {sparse.dim});
  }
  std::vector<torch::Tensor> reference_grads;
  for (const torch::Tensor& table : reference.tables)
    reference_grads.push_back(table.grad().defined() ? table.grad() : torch::zeros_like(table));
  EXPECT_TRUE(torch::allclose(dense_from_sparse, torch::cat(reference_grads, 0), 1e-4, 1e-5));

  // The inference engine: probabilities (binary) or values (regression) of the same rows.
  std::vector<float> scores(static_cast<size_t>(batch.rows));
  model->MakeInferenceEngine(false)->Predict(batch, scores.data());
  const torch::Tensor engine = torch::from_blob(scores.data(), {batch.rows});
  const torch::Tensor want =
      layout.task == data::Task::kBinary ? torch::sigmoid(expected) : expected;
  EXPECT_TRUE(torch::allclose(engine, want.detach(), 1e-4, 1e-5));

  // The architecture rebuilds the same model; the saved weights load into it.
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("aiok_model_test_" + std::to_string(getpid()) + ".pt"))
                               .string();
  SaveWeights(*model, path);
  std::unique_ptr<Model> rebuilt = BuiltinModels().FromArchitecture("dlrm", model->Architecture());
  LoadWeights(*rebuilt, path);
  std::filesystem::remove(path);
  EXPECT_EQ(rebuilt->Architecture(), model->Architecture());
  EXPECT_TRUE(torch::allclose(rebuilt->Forward(batch), got));
  rebuilt->CheckLayout(layout);
}

TEST(DlrmFromLayout, ListFieldsPooledBySumOrMeanMatchEmbeddingBag) {
  const data::FeatureLayout layout =
      Layout(3, {5, 7}, {{"tags", JaggedFeature::Kind::kMultiCategorical, 11, 4}});
  CheckAgainstReference(layout, {{"preset", "dlrm-tiny"}, {"pooling", "sum"}});
  CheckAgainstReference(layout, {{"preset", "dlrm-tiny"}, {"pooling", "mean"}});
  CheckAgainstReference(layout, {{"preset", "dlrm-tiny"}, {"interaction", "cat"}});
}

TEST(DlrmFromLayout, SequencesArePooledByTheirMean) {
  const data::FeatureLayout layout =
      Layout(2, {5},
             {{"history", JaggedFeature::Kind::kSequence, 9, 4},
              {"tags", JaggedFeature::Kind::kMultiCategorical, 6, 4}});
  std::unique_ptr<Model> model =
      BuiltinModels().Create("dlrm", layout, {{"preset", "dlrm-tiny"}, {"pooling", "sum"}});
  const auto& architecture = model->Architecture();
  EXPECT_EQ(architecture.at("lists")[0].at("pooling"), "mean");
  EXPECT_EQ(architecture.at("lists")[1].at("pooling"), "sum");
  CheckAgainstReference(layout, {{"preset", "dlrm-tiny"}});
}

TEST(DlrmFromLayout, NoDenseFieldsMeansNoBottomMlp) {
  // The first embedding stands where the bottom output would: passed through and interacting.
  const data::FeatureLayout layout =
      Layout(0, {5, 7, 3}, {{"tags", JaggedFeature::Kind::kMultiCategorical, 11, 4}});
  std::unique_ptr<Model> model = BuiltinModels().Create("dlrm", layout, {{"preset", "dlrm-tiny"}});
  EXPECT_TRUE(model->Architecture().at("bottom_mlp").empty());
  EXPECT_FALSE(std::dynamic_pointer_cast<DlrmImpl>(model->module())->bottom());
  CheckAgainstReference(layout, {{"preset", "dlrm-tiny"}});
  CheckAgainstReference(layout, {{"preset", "dlrm-tiny"}, {"interaction", "cat"}});
  // Only list fields, no dense and no one-id field.
  CheckAgainstReference(Layout(0, {},
                               {{"a", JaggedFeature::Kind::kMultiCategorical, 8, 3},
                                {"b", JaggedFeature::Kind::kMultiCategorical, 5, 3}}),
                        {{"preset", "dlrm-tiny"}});
}

TEST(DlrmFromLayout, RegressionOutputsValues) {
  CheckAgainstReference(Layout(3, {5, 7}, {}, data::Task::kRegression), {{"preset", "dlrm-tiny"}});
}

TEST(DlrmFromLayout, CheckLayoutNamesWhatDiffers) {
  std::unique_ptr<Model> model =
      BuiltinModels().Create("dlrm", Layout(3, {5, 7}, {}), {{"preset", "dlrm-tiny"}});
  model->CheckLayout(Layout(3, {5, 7}, {}));
  std::string message = ErrorOf([&] { model->CheckLayout(Layout(3, {5, 8}, {})); });
  EXPECT_NE(message.find("[5, 7]"), std::string::npos) << message;
  EXPECT_NE(message.find("[5, 8]"), std::string::npos) << message;
  // A batch without a block the model reads, or with another number of list fields.
  data::FeatureBatch batch = RandomBatch(Layout(3, {5, 7}, {}), 4, 1);
  batch.dense = nullptr;
  message = ErrorOf([&] { model->Forward(batch); });
  EXPECT_NE(message.find("no dense block"), std::string::npos) << message;
  std::vector<float> out(4);
  message = ErrorOf([&] { model->MakeInferenceEngine(false)->Predict(batch, out.data()); });
  EXPECT_NE(message.find("no dense block"), std::string::npos) << message;
  batch.ViewStorage();
  batch.jagged.resize(1);
  message = ErrorOf([&] { model->Forward(batch); });
  EXPECT_NE(message.find("1 list fields, the model takes 0"), std::string::npos) << message;
}

TEST(SparseGradient, AddSumsSharedRowsAndKeepsIdsAscending) {
  SparseGradient a;
  a.dim = 2;
  a.ids = {1, 4, 9};
  a.rows.assign({1, 1, 4, 4, 9, 9});
  SparseGradient b;
  b.dim = 2;
  b.ids = {0, 4, 10};
  b.rows.assign({5, 6, 1, 2, 7, 8});
  a.Add(b);
  EXPECT_EQ(a.ids, (std::vector<int64_t>{0, 1, 4, 9, 10}));
  EXPECT_EQ(std::vector<float>(a.rows.begin(), a.rows.end()),
            (std::vector<float>{5, 6, 1, 1, 5, 6, 9, 9, 7, 8}));
}

}  // namespace
}  // namespace aiok::models
