#include "aiok/serving/predictor.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/etl/row_transformer.h"
#include "aiok/models/dlrm.h"
#include "aiok/models/dlrm_inference.h"
#include "aiok/models/precision.h"

namespace aiok::serving {

struct Predictor::Impl {
  Impl(const Bundle& bundle, const std::string& precision_setting)
      : pipeline(etl::Pipeline::LoadState(bundle.pipeline_state, bundle.dense_columns,
                                          bundle.categorical_columns,
                                          bundle.dir + "/pipeline.json")),
        transformer(pipeline),
        model(models::DlrmOptions::FromArchitectureJson(
            bundle.model.at("architecture"))),
        bf16(models::UseBf16(precision_setting)),
        precision(bf16 ? "bf16" : "fp32") {
    const models::DlrmOptions& options = model->options();
    AIOK_CHECK(options.dense_features == transformer.dense_columns() &&
                   static_cast<int>(options.table_sizes.size()) ==
                       transformer.categorical_columns(),
               ErrorKind::kInvalidInput,
               "{}: the model takes {} dense and {} categorical features, the pipeline makes {} "
               "and {}",
               bundle.dir, options.dense_features, options.table_sizes.size(),
               transformer.dense_columns(), transformer.categorical_columns());
    try {
      torch::load(model, bundle.weights_path);
    } catch (const c10::Error& e) {
      Throw(ErrorKind::kInvalidInput, "{}: cannot load the weights: {}", bundle.weights_path,
            e.what_without_backtrace());
    }
    model->eval();
    inference = std::make_unique<models::DlrmInference>(*model, bf16);
  }

  etl::Pipeline pipeline;
  etl::RowTransformer transformer;
  models::Dlrm model;
  std::unique_ptr<models::DlrmInference> inference;
  bool bf16;
  std::string precision;
};

Predictor::Predictor(const Bundle& bundle, const std::string& precision)
    : impl_(std::make_unique<Impl>(bundle, precision)) {}

Predictor::~Predictor() = default;

int Predictor::dense_columns() const { return impl_->transformer.dense_columns(); }
int Predictor::categorical_columns() const { return impl_->transformer.categorical_columns(); }
const std::string& Predictor::precision() const { return impl_->precision; }

void Predictor::PredictFeatures(const float* dense, const int32_t* ids, int64_t rows,
                                float* out) const {
  if (rows == 0)
    return;
  impl_->inference->Predict(dense, ids, rows, out);
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
    PredictFeatures(dense.data() + begin * dense_columns(), ids.data() + begin * categorical_columns(),
                    n, out + begin);
  }
}

}  // namespace aiok::serving
