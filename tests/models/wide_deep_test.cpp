// Wide&Deep built through the registry, against a slow reference written with plain libtorch
// ops (embedding, embedding_bag, the crosses hashed row by row), gradients checked by finite
// differences, and its inference engine against its forward.
#include "aiok/models/wide_deep.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "aiok/models/model.h"
#include "model_test_data.h"

namespace aiok::models {
namespace {

using data::JaggedFeature;

// One field's rows from a table copy that autograd tracks: embedding for one-id fields,
// embedding_bag for lists.
torch::Tensor LookUp(const torch::Tensor& table, const torch::Tensor& ids) {
  return torch::embedding(table, ids.to(torch::kInt64));
}

torch::Tensor LookUpList(const torch::Tensor& table, const data::JaggedIds& list, int64_t rows,
                         bool mean) {
  const int64_t n = list.offsets[rows] - list.offsets[0];
  const torch::Tensor values =
      torch::from_blob(const_cast<int32_t*>(list.values + list.offsets[0]), {n}, torch::kInt32)
          .to(torch::kInt64);
  const torch::Tensor offsets =
      torch::from_blob(const_cast<int64_t*>(list.offsets), {rows}, torch::kInt64) -
      list.offsets[0];
  return std::get<0>(torch::embedding_bag(table, values, offsets, false, mean ? 1 : 0));
}

struct Reference {
  std::vector<torch::Tensor> deep_tables;  // leaves with gradients
  std::vector<torch::Tensor> wide_tables;

  static std::vector<torch::Tensor> Copies(FusedEmbeddingImpl& embedding) {
    std::vector<torch::Tensor> tables;
    for (size_t t = 0; t < embedding.options().table_sizes.size(); ++t) {
      tables.push_back(embedding.weight
                           .narrow(0, embedding.offsets()[t], embedding.options().table_sizes[t])
                           .detach()
                           .clone()
                           .requires_grad_());
    }
    return tables;
  }

  torch::Tensor Forward(WideDeepImpl& model, const data::FeatureBatch& batch) {
    const WideDeepArchitecture& a = model.architecture();
    const int64_t rows = batch.rows;
    const auto singles = static_cast<int64_t>(a.table_sizes.size());
    const auto crosses = static_cast<int64_t>(a.crosses.size());
    deep_tables = Copies(*model.deep_embedding());
    wide_tables = Copies(*model.wide());
    const torch::Tensor ids =
        torch::from_blob(const_cast<int32_t*>(batch.categorical), {rows, singles}, torch::kInt32);
    std::vector<torch::Tensor> deep_in;
    if (a.dense_features > 0) {
      deep_in.push_back(
          torch::from_blob(const_cast<float*>(batch.dense), {rows, a.dense_features}));
    }
    torch::Tensor wide = model.bias().expand({rows});
    for (int64_t t = 0; t < singles; ++t) {
      deep_in.push_back(LookUp(deep_tables[t], ids.select(1, t)));
      wide = wide + LookUp(wide_tables[t], ids.select(1, t)).squeeze(1);
    }
    for (int64_t c = 0; c < crosses; ++c) {
      std::vector<int64_t> buckets;
      for (int64_t r = 0; r < rows; ++r) {
        buckets.push_back(CrossBucket(batch.categorical + r * singles,
                                      a.crosses[static_cast<size_t>(c)], a.cross_buckets));
      }
      wide = wide + LookUp(wide_tables[singles + c], torch::tensor(buckets)).squeeze(1);
    }
    for (size_t j = 0; j < a.list_sizes.size(); ++j) {
      const bool mean = a.list_pooling[j] == Pooling::kMean;
      deep_in.push_back(LookUpList(deep_tables[singles + j], batch.jagged[j], rows, mean));
      wide = wide +
             LookUpList(wide_tables[singles + crosses + j], batch.jagged[j], rows, false).squeeze(1);
    }
    return model.deep()->forward(torch::cat(deep_in, 1)).squeeze(1) + wide;
  }
};

// A group's sparse gradient as a dense [rows x dim] tensor.
torch::Tensor Densify(FusedEmbeddingImpl& group) {
  const SparseGradient& sparse = group.gradient();
  torch::Tensor dense = torch::zeros_like(group.weight);
  for (int64_t u = 0; u < sparse.size(); ++u) {
    EXPECT_TRUE(u == 0 || sparse.ids[u] > sparse.ids[u - 1]) << "ids unique and ascending";
    dense[sparse.ids[u]] =
        torch::from_blob(const_cast<float*>(sparse.rows.data()) + u * sparse.dim, {sparse.dim});
  }
  return dense;
}

torch::Tensor Grads(const std::vector<torch::Tensor>& tables) {
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& table : tables)
    grads.push_back(table.grad().defined() ? table.grad() : torch::zeros_like(table));
  return torch::cat(grads, 0);
}

void CheckAgainstReference(const data::FeatureLayout& layout, const nlohmann::json& options) {
  SCOPED_TRACE(layout.ToJson().dump() + " " + options.dump());
  torch::manual_seed(3);
  std::unique_ptr<Model> model = BuiltinModels().Create("wnd", layout, options);
  auto wnd = std::dynamic_pointer_cast<WideDeepImpl>(model->module());
  ASSERT_TRUE(wnd);
  {
    // Trained-looking weights: the wide part starts at zero, which would hide its terms.
    torch::NoGradGuard no_grad;
    wnd->deep_embedding()->weight.normal_(0.0, 0.5);
    wnd->wide()->weight.normal_(0.0, 0.5);
    wnd->bias().fill_(0.25);
  }
  const data::FeatureBatch batch = RandomBatch(layout, 37, 4);
  const torch::Tensor got = model->Forward(batch);
  Reference reference;
  const torch::Tensor expected = reference.Forward(*wnd, batch);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5))
      << (got - expected).abs().max().item<float>();

  // Backward leaves both groups' gradients as the reference's table gradients.
  const torch::Tensor mix = torch::randn({batch.rows});
  (got * mix).sum().backward();
  (expected * mix).sum().backward();
  EXPECT_TRUE(torch::allclose(Densify(*wnd->deep_embedding()), Grads(reference.deep_tables),
                              1e-4, 1e-5));
  EXPECT_TRUE(
      torch::allclose(Densify(*wnd->wide()), Grads(reference.wide_tables), 1e-4, 1e-5));

  // The inference engine scores the same rows, in fp32 and (looser) in bf16.
  const torch::Tensor want =
      layout.task == data::Task::kBinary ? torch::sigmoid(expected) : expected;
  for (bool bf16 : {false, true}) {
    std::vector<float> scores(static_cast<size_t>(batch.rows));
    model->MakeInferenceEngine(bf16)->Predict(batch, scores.data());
    const torch::Tensor engine = torch::from_blob(scores.data(), {batch.rows});
    const double tolerance = bf16 ? 0.05 : 1e-5;
    EXPECT_TRUE(torch::allclose(engine, want.detach(), 1e-4, tolerance))
        << "bf16 " << bf16 << ": " << (engine - want).abs().max().item<float>();
  }

  // The architecture rebuilds the same model; the saved weights load into it.
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("aiok_wnd_test_" + std::to_string(getpid()) + ".pt"))
                               .string();
  SaveWeights(*model, path);
  std::unique_ptr<Model> rebuilt = BuiltinModels().FromArchitecture("wnd", model->Architecture());
  LoadWeights(*rebuilt, path);
  std::filesystem::remove(path);
  EXPECT_EQ(rebuilt->Architecture(), model->Architecture());
  EXPECT_TRUE(torch::allclose(rebuilt->Forward(batch), got));
  rebuilt->CheckLayout(layout);
}

const nlohmann::json kSmall = {{"preset", "wnd-small"}, {"emb-dim", 4}, {"mlp", "8-4"}};

TEST(WideDeep, OneIdFieldsAndCrossesMatchTheReference) {
  nlohmann::json options = kSmall;
  options["crosses"] = "c0:c1,c0:c1:c2";
  options["cross-buckets"] = 13;
  CheckAgainstReference(Layout(3, {5, 7, 4}, {}), options);
}

TEST(WideDeep, ListFieldsSequencesAndNoDenseFieldsMatchTheReference) {
  const data::FeatureLayout layout =
      Layout(0, {5}, {{"tags", JaggedFeature::Kind::kMultiCategorical, 11, 4},
                      {"history", JaggedFeature::Kind::kSequence, 9, 4}});
  nlohmann::json options = kSmall;
  options["pooling"] = "mean";
  CheckAgainstReference(layout, options);
  CheckAgainstReference(Layout(2, {5, 6}, {}, data::Task::kRegression), kSmall);
}

TEST(WideDeep, GradientsMatchFiniteDifferences) {
  // The loss a training step sees, as a function of single weights: the deep embedding, the
  // wide weights (a value's and a cross's) and the bias, each nudged both ways.
  const data::FeatureLayout layout = Layout(2, {4, 3}, {});
  nlohmann::json options = kSmall;
  options["crosses"] = "c0:c1";
  options["cross-buckets"] = 5;
  torch::manual_seed(5);
  std::unique_ptr<Model> model = BuiltinModels().Create("wnd", layout, options);
  auto wnd = std::dynamic_pointer_cast<WideDeepImpl>(model->module());
  {
    torch::NoGradGuard no_grad;
    wnd->wide()->weight.normal_(0.0, 0.3);
  }
  const data::FeatureBatch batch = RandomBatch(layout, 16, 7);
  const torch::Tensor labels = torch::from_blob(const_cast<float*>(batch.labels), {batch.rows});
  auto loss = [&] {
    return torch::binary_cross_entropy_with_logits(model->Forward(batch), labels);
  };
  loss().backward();
  const torch::Tensor deep_grad = Densify(*wnd->deep_embedding());
  const torch::Tensor wide_grad = Densify(*wnd->wide());
  const float bias_grad = wnd->bias().grad().item<float>();
  torch::NoGradGuard no_grad;
  auto numeric = [&](const torch::Tensor& weight, int64_t index) {
    const double h = 1e-2;
    float* w = weight.data_ptr<float>() + index;
    const float saved = *w;
    *w = saved + static_cast<float>(h);
    const double up = loss().item<double>();
    *w = saved - static_cast<float>(h);
    const double down = loss().item<double>();
    *w = saved;
    return (up - down) / (2 * h);
  };
  int checked = 0;
  for (int64_t i = 0; i < wnd->deep_embedding()->weight.numel(); i += 3) {
    const double analytic = deep_grad.view(-1)[i].item<double>();
    EXPECT_NEAR(numeric(wnd->deep_embedding()->weight, i), analytic, 2e-3) << "deep " << i;
    ++checked;
  }
  for (int64_t i = 0; i < wnd->wide()->weight.numel(); ++i) {
    const double analytic = wide_grad.view(-1)[i].item<double>();
    EXPECT_NEAR(numeric(wnd->wide()->weight, i), analytic, 2e-3) << "wide " << i;
    checked += analytic != 0.0;
  }
  EXPECT_NEAR(numeric(wnd->bias(), 0), bias_grad, 2e-3);
  EXPECT_GT(checked, 10);
}

TEST(WideDeep, StartsLinearAtZeroAndAsksForItsOwnWideUpdate) {
  std::unique_ptr<Model> model = BuiltinModels().Create("wnd", Layout(1, {5}, {}), nullptr);
  auto wnd = std::dynamic_pointer_cast<WideDeepImpl>(model->module());
  EXPECT_EQ(wnd->wide()->weight.abs().sum().item<float>(), 0.0f);
  const std::vector<SparseParameterGroup*> groups = model->SparseGroups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0]->group_name(), "embedding");
  EXPECT_EQ(groups[0]->own_update(), nullptr);
  EXPECT_EQ(groups[1]->group_name(), "wide");
  ASSERT_NE(groups[1]->own_update(), nullptr);
  EXPECT_EQ(groups[1]->own_update()->update, "ftrl");
  // The paper's preset.
  EXPECT_EQ(model->Architecture().at("deep_mlp"), (std::vector<int64_t>{1024, 512, 256}));
  EXPECT_EQ(model->Architecture().at("embedding_dim"), 32);
}

TEST(WideDeep, BadCrossesNameTheFieldAndTheValidOnes) {
  const data::FeatureLayout layout = Layout(1, {5, 6}, {});
  std::string message =
      ErrorOf([&] { BuiltinModels().Create("wnd", layout, {{"crosses", "c0:colour"}}); });
  EXPECT_NE(message.find("'colour' is not a categorical field"), std::string::npos) << message;
  EXPECT_NE(message.find("c0, c1"), std::string::npos) << message;
  message = ErrorOf([&] { BuiltinModels().Create("wnd", layout, {{"crosses", "c0"}}); });
  EXPECT_NE(message.find("2 or more fields"), std::string::npos) << message;
}

TEST(WideDeep, CrossBucketsSpreadAndDependOnEveryField) {
  const std::vector<int32_t> fields = {0, 1};
  std::vector<int> counts(16, 0);
  for (int32_t a = 0; a < 64; ++a) {
    for (int32_t b = 0; b < 64; ++b) {
      const int32_t row[2] = {a, b};
      ++counts[static_cast<size_t>(CrossBucket(row, fields, 16))];
    }
  }
  for (int count : counts)
    EXPECT_NEAR(count, 256, 80);  // 4096 pairs over 16 buckets
  const int32_t ab[2] = {3, 5};
  const int32_t ba[2] = {5, 3};
  EXPECT_NE(CrossBucket(ab, fields, 1 << 20), CrossBucket(ba, fields, 1 << 20));
}

}  // namespace
}  // namespace aiok::models
