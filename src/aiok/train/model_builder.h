// The model a training run trains: the registry's model family named by --model, built for the
// dataset's feature layout from the model's own options. Torch-free.
#pragma once

#include <cstdint>
#include <memory>

#include "aiok/data/feature_batch.h"
#include "aiok/models/model.h"
#include "aiok/train/trainer.h"

namespace aiok::train {

/// A new `options.model` for `layout`, with `options.model_options`, its weights drawn from
/// `seed`. Errors (kConfig) name the option, or list the valid models for an unknown name.
std::unique_ptr<models::Model> BuildModel(const TrainOptions& options,
                                          const data::FeatureLayout& layout, uint64_t seed);

}  // namespace aiok::train
