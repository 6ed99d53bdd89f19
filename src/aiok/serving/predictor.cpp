#include "aiok/serving/predictor.h"

#include "aiok/core/error.h"
#include "aiok/data/dataset.h"
#include "aiok/models/model.h"
#include "aiok/models/precision.h"

namespace aiok::serving {
namespace {

std::unique_ptr<models::Model> ModelOfBundle(const Bundle& bundle) {
  try {
    // OpenBundle checked that "type" is a string and "architecture" an object.
    return models::BuiltinModels().FromArchitecture(bundle.model.at("type").get<std::string>(),
                                                    bundle.model.at("architecture"));
  } catch (Error& e) {
    e.AddContext(fmt::format("in {}/bundle.json: model.architecture", bundle.dir));
    throw;
  }
}

}  // namespace

struct Predictor::Impl {
  Impl(const Bundle& bundle, const std::string& precision_setting)
      : model(ModelOfBundle(bundle)),
        bf16(models::UseBf16(precision_setting)),
        precision(bf16 ? "bf16" : "fp32") {
    // The features the bundle's pipeline makes (its dataset's layout) must be the ones the
    // model was trained on.
    const data::FeatureLayout layout =
        data::DatasetSchema::FromJson(bundle.schema, bundle.dir + "/schema.json").features;
    try {
      model->CheckLayout(layout);
    } catch (Error& e) {
      e.AddContext(fmt::format("the model of the bundle {}", bundle.dir));
      throw;
    }
    models::LoadWeights(*model, bundle.weights_path);
    inference = model->MakeInferenceEngine(bf16);
  }

  std::unique_ptr<models::Model> model;
  std::unique_ptr<models::InferenceEngine> inference;
  bool bf16;
  std::string precision;
};

Predictor::Predictor(const Bundle& bundle, const std::string& precision)
    : impl_(std::make_unique<Impl>(bundle, precision)) {}

Predictor::~Predictor() = default;

const std::string& Predictor::precision() const { return impl_->precision; }

void Predictor::Predict(const data::FeatureBatch& batch, float* out) const {
  if (batch.rows == 0)
    return;
  impl_->inference->Predict(batch, out);
}

}  // namespace aiok::serving
