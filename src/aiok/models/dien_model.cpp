#include "aiok/models/dien_model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"
#include "aiok/models/dien.h"
#include "aiok/models/mlp_inference.h"
#include "aiok/models/precision.h"

namespace aiok::models {
namespace {

// Scores with the model's own forward, on a copy in evaluation mode: the dense weights copied,
// the embedding table shared. Evaluation-mode forwards change no state, so threads may share
// the copy.
class DienModuleInference final : public InferenceEngine {
 public:
  DienModuleInference(DienImpl& model, bool bf16)
      : bf16_(bf16),
        copy_(std::make_shared<DienImpl>(model.architecture(), model.embedding()->weight)) {
    torch::NoGradGuard no_grad;
    auto parameters = copy_->named_parameters();
    for (const auto& item : model.named_parameters())
      parameters[item.key()].copy_(item.value());
    auto buffers = copy_->named_buffers();
    for (const auto& item : model.named_buffers()) {
      if (item.key() != "embedding.weight")
        buffers[item.key()].copy_(item.value());
    }
    copy_->eval();
    const DienArchitecture& a = copy_->architecture();
    layout_.dense.assign(static_cast<size_t>(a.dense_features), "");
    for (int64_t size : a.table_sizes)
      layout_.categorical.push_back({"", size});
  }

  void Predict(const data::FeatureBatch& batch, float* out) const override {
    const DienArchitecture& a = copy_->architecture();
    a.CheckBatch(batch, "dien inference");
    c10::InferenceMode inference;
    Bf16Autocast autocast(bf16_);
    for (int64_t begin = 0; begin < batch.rows; begin += kInferenceChunkRows) {
      const int64_t rows = std::min(kInferenceChunkRows, batch.rows - begin);
      const torch::Tensor logits = copy_->forward(batch.Slice(begin, rows, layout_)).contiguous();
      const float* logit = logits.data_ptr<float>();
      for (int64_t r = 0; r < rows; ++r) {
        out[begin + r] =
            a.task == data::Task::kBinary ? 1.0f / (1.0f + std::exp(-logit[r])) : logit[r];
      }
    }
  }

 private:
  bool bf16_;
  std::shared_ptr<DienImpl> copy_;
  data::FeatureLayout layout_;  // the shapes Slice needs
};

class DienModel final : public Model {
 public:
  explicit DienModel(DienArchitecture architecture) : module_(std::move(architecture)) {}

  const std::string& name() const override {
    static const std::string kName = "dien";
    return kName;
  }
  data::Task task() const override { return module_->architecture().task; }
  void CheckLayout(const data::FeatureLayout& layout) const override {
    const DienArchitecture& a = module_->architecture();
    std::vector<int64_t> lists;
    for (const data::JaggedFeature& field : layout.jagged)
      lists.push_back(field.cardinality);
    AIOK_CHECK(layout.dense_width() == a.dense_features &&
                   layout.cardinalities() == a.table_sizes && lists == a.list_sizes,
               ErrorKind::kInvalidInput,
               "dien: the model takes {} dense fields, categorical tables of [{}] rows and list "
               "tables of [{}]; the data has {}, [{}] and [{}]",
               a.dense_features, fmt::join(a.table_sizes, ", "), fmt::join(a.list_sizes, ", "),
               layout.dense_width(), fmt::join(layout.cardinalities(), ", "),
               fmt::join(lists, ", "));
    for (const DienArchitecture::Pair& pair : a.pairs) {
      const std::string& target = layout.categorical[pair.target].name;
      const std::string& history = layout.jagged[pair.history].name;
      AIOK_CHECK(target == pair.target_name && history == pair.history_name,
                 ErrorKind::kInvalidInput,
                 "dien: the model pairs history '{}' with target '{}'; at their places the data "
                 "has '{}' and '{}'",
                 pair.history_name, pair.target_name, history, target);
    }
  }
  at::Tensor Forward(const data::FeatureBatch& batch) override { return module_->forward(batch); }
  at::Tensor AuxiliaryLoss() override { return module_->aux_loss(); }
  nlohmann::json Architecture() const override { return module_->architecture().ToJson(); }
  std::shared_ptr<torch::nn::Module> module() override { return module_.ptr(); }
  std::vector<at::Tensor> DenseParameters() override { return module_->parameters(); }
  std::vector<SparseParameterGroup*> SparseGroups() override {
    std::vector<SparseParameterGroup*> groups = {module_->embedding().get()};
    if (module_->lists())
      groups.push_back(module_->lists().get());
    return groups;
  }
  std::unique_ptr<InferenceEngine> MakeInferenceEngine(bool bf16) override {
    return std::make_unique<DienModuleInference>(*module_, bf16);
  }

 private:
  Dien module_;
};

}  // namespace

void RegisterDienModel(ModelRegistry& registry) {
  registry.Register(
      "dien",
      "DIEN (Zhou et al., 2019): a GRU interest extractor over the behaviour sequence with an "
      "auxiliary next-behaviour loss, target attention and an AUGRU for interest evolution, "
      "and an MLP with Dice or PReLU",
      [] { return std::make_unique<DeclaredOptions<DienOptions>>(); },
      [](const data::FeatureLayout& layout, const nlohmann::json& options) {
        DeclaredOptions<DienOptions> declared;
        ModelOptionsFromJson(declared, options, "dien");
        return std::make_unique<DienModel>(DienArchitecture::Resolve(layout, declared.value));
      },
      [](const nlohmann::json& architecture) {
        return std::make_unique<DienModel>(DienArchitecture::FromJson(architecture));
      });
}

}  // namespace aiok::models
