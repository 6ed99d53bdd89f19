#include "aiok/train/model_builder.h"

#include <torch/torch.h>

namespace aiok::train {

nlohmann::json ResolvedModelOptions(const TrainOptions& options, const std::string& owner) {
  return models::BuiltinModels().ResolveOptions(options.model, options.model_options, owner);
}

std::unique_ptr<models::Model> BuildModel(const TrainOptions& options,
                                          const data::FeatureLayout& layout, uint64_t seed) {
  const nlohmann::json model_options = ResolvedModelOptions(options, options.model);
  torch::manual_seed(seed);
  return models::BuiltinModels().Create(options.model, layout, model_options);
}

}  // namespace aiok::train
