#include "aiok/models/dien_model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "aiok/core/error.h"
#include "aiok/models/dien.h"
#include "aiok/models/dien_inference.h"

namespace aiok::models {
namespace {

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
    return std::make_unique<DienInference>(*module_, bf16);
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
