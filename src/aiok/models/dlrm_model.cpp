#include "aiok/models/dlrm_model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "aiok/core/error.h"
#include "aiok/models/dlrm.h"
#include "aiok/models/dlrm_inference.h"

namespace aiok::models {
namespace {

class DlrmModel final : public Model {
 public:
  explicit DlrmModel(DlrmArchitecture architecture) : module_(std::move(architecture)) {}

  const std::string& name() const override {
    static const std::string kName = "dlrm";
    return kName;
  }
  data::Task task() const override { return module_->architecture().task; }
  void CheckLayout(const data::FeatureLayout& layout) const override {
    const DlrmArchitecture& a = module_->architecture();
    CheckLayoutShapes("dlrm", a.dense_features, a.table_sizes, a.list_sizes, layout);
  }
  at::Tensor Forward(const data::FeatureBatch& batch) override { return module_->forward(batch); }
  nlohmann::json Architecture() const override { return module_->architecture().ToJson(); }
  std::shared_ptr<torch::nn::Module> module() override { return module_.ptr(); }
  std::vector<at::Tensor> DenseParameters() override { return module_->parameters(); }
  std::vector<SparseParameterGroup*> SparseGroups() override {
    return {module_->embedding().get()};
  }
  std::unique_ptr<InferenceEngine> MakeInferenceEngine(bool bf16) override {
    return std::make_unique<DlrmInference>(*module_, bf16);
  }

 private:
  Dlrm module_;
};

}  // namespace

void RegisterDlrmModel(ModelRegistry& registry) {
  registry.Register(
      "dlrm",
      "DLRM (Naumov et al., 2019): bottom MLP over the dense fields, an embedding per "
      "categorical field (list fields pooled), pairwise dot interaction, top MLP",
      [] { return std::make_unique<DeclaredOptions<DlrmOptions>>(); },
      [](const data::FeatureLayout& layout, const nlohmann::json& options) {
        DeclaredOptions<DlrmOptions> declared;
        ModelOptionsFromJson(declared, options, "dlrm");
        return std::make_unique<DlrmModel>(DlrmArchitecture::Resolve(layout, declared.value));
      },
      [](const nlohmann::json& architecture) {
        return std::make_unique<DlrmModel>(DlrmArchitecture::FromJson(architecture));
      });
}

}  // namespace aiok::models
