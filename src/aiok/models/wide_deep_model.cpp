#include "aiok/models/wide_deep_model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "aiok/core/error.h"
#include "aiok/models/wide_deep.h"
#include "aiok/models/wide_deep_inference.h"

namespace aiok::models {
namespace {

class WideDeepModel final : public Model {
 public:
  explicit WideDeepModel(WideDeepArchitecture architecture) : module_(std::move(architecture)) {}

  const std::string& name() const override {
    static const std::string kName = "wnd";
    return kName;
  }
  data::Task task() const override { return module_->architecture().task; }
  void CheckLayout(const data::FeatureLayout& layout) const override {
    const WideDeepArchitecture& a = module_->architecture();
    CheckLayoutShapes("wnd", a.dense_features, a.table_sizes, a.list_sizes, layout);
  }
  at::Tensor Forward(const data::FeatureBatch& batch) override { return module_->forward(batch); }
  nlohmann::json Architecture() const override { return module_->architecture().ToJson(); }
  std::shared_ptr<torch::nn::Module> module() override { return module_.ptr(); }
  std::vector<at::Tensor> DenseParameters() override { return module_->parameters(); }
  std::vector<SparseParameterGroup*> SparseGroups() override {
    return {module_->deep_embedding().get(), module_->wide().get()};
  }
  std::unique_ptr<InferenceEngine> MakeInferenceEngine(bool bf16) override {
    return std::make_unique<WideDeepInference>(*module_, bf16);
  }

 private:
  WideDeep module_;
};

}  // namespace

void RegisterWideDeepModel(ModelRegistry& registry) {
  registry.Register(
      "wnd",
      "Wide&Deep (Cheng et al., 2016): a linear model over one-hot and crossed fields "
      "(FTRL) and an MLP over embeddings, trained jointly",
      [] { return std::make_unique<DeclaredOptions<WideDeepOptions>>(); },
      [](const data::FeatureLayout& layout, const nlohmann::json& options) {
        DeclaredOptions<WideDeepOptions> declared;
        ModelOptionsFromJson(declared, options, "wnd");
        return std::make_unique<WideDeepModel>(
            WideDeepArchitecture::Resolve(layout, declared.value));
      },
      [](const nlohmann::json& architecture) {
        return std::make_unique<WideDeepModel>(WideDeepArchitecture::FromJson(architecture));
      });
}

}  // namespace aiok::models
