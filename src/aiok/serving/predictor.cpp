#include "aiok/serving/predictor.h"

#include <algorithm>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/data/dataset.h"
#include "aiok/etl/row_transformer.h"
#include "aiok/models/model.h"
#include "aiok/models/precision.h"

namespace aiok::serving {
namespace {

std::unique_ptr<models::Model> ModelOfBundle(const Bundle& bundle) {
  try {
    return models::BuiltinModels().FromArchitecture(bundle.model.at("type").get<std::string>(),
                                                    bundle.model.at("architecture"));
  } catch (const nlohmann::json::exception& e) {
    Throw(ErrorKind::kInvalidInput, "{}/bundle.json: model: {}", bundle.dir, e.what());
  }
}

}  // namespace

struct Predictor::Impl {
  Impl(const Bundle& bundle, const std::string& precision_setting)
      : pipeline(etl::Pipeline::LoadState(bundle.pipeline_state, bundle.dense_columns,
                                          bundle.categorical_columns,
                                          bundle.dir + "/pipeline.json")),
        transformer(pipeline),
        model(ModelOfBundle(bundle)),
        bf16(models::UseBf16(precision_setting)),
        precision(bf16 ? "bf16" : "fp32") {
    // The features the pipeline makes must be the ones the model was trained on.
    const data::FeatureLayout layout =
        data::DatasetSchema::FromJson(bundle.schema, bundle.dir + "/schema.json").features;
    AIOK_CHECK(layout.dense_width() == transformer.dense_columns() &&
                   layout.categorical_width() == transformer.categorical_columns() &&
                   layout.jagged.empty(),
               ErrorKind::kInvalidInput,
               "{}: the pipeline makes {} dense and {} categorical features, the schema has {}, "
               "{} and {} list fields",
               bundle.dir, transformer.dense_columns(), transformer.categorical_columns(),
               layout.dense_width(), layout.categorical_width(), layout.jagged.size());
    try {
      model->CheckLayout(layout);
    } catch (Error& e) {
      e.AddContext(fmt::format("the model of the bundle {}", bundle.dir));
      throw;
    }
    models::LoadWeights(*model, bundle.weights_path);
    inference = model->MakeInferenceEngine(bf16);
  }

  etl::Pipeline pipeline;
  etl::RowTransformer transformer;
  std::unique_ptr<models::Model> model;
  std::unique_ptr<models::InferenceEngine> inference;
  bool bf16;
  std::string precision;
};

Predictor::Predictor(const Bundle& bundle, const std::string& precision)
    : impl_(std::make_unique<Impl>(bundle, precision)) {}

Predictor::~Predictor() = default;

int Predictor::dense_columns() const { return impl_->transformer.dense_columns(); }
int Predictor::categorical_columns() const { return impl_->transformer.categorical_columns(); }
const std::string& Predictor::precision() const { return impl_->precision; }

void Predictor::Predict(const data::FeatureBatch& batch, float* out) const {
  if (batch.rows == 0)
    return;
  impl_->inference->Predict(batch, out);
}

void Predictor::PredictFeatures(const float* dense, const int32_t* ids, int64_t rows,
                                float* out) const {
  data::FeatureBatch batch;
  batch.rows = rows;
  batch.dense = dense;
  batch.categorical = ids;
  Predict(batch, out);
}

void Predictor::Transform(const data::CriteoBatch& batch, float* dense, int32_t* ids) const {
  impl_->transformer.Transform(batch, dense, ids);
}

void Predictor::Predict(const data::CriteoBatch& batch, float* out, int64_t max_batch) const {
  const auto rows = static_cast<size_t>(batch.rows);
  std::vector<float> dense(rows * static_cast<size_t>(dense_columns()));
  std::vector<int32_t> ids(rows * static_cast<size_t>(categorical_columns()));
  impl_->transformer.Transform(batch, dense.data(), ids.data());
  for (int64_t begin = 0; begin < batch.rows; begin += max_batch) {
    const int64_t n = std::min(max_batch, batch.rows - begin);
    PredictFeatures(dense.data() + begin * dense_columns(),
                    ids.data() + begin * categorical_columns(), n, out + begin);
  }
}

}  // namespace aiok::serving
