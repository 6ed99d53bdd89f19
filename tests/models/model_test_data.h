// Feature layouts and random batches of any shape for the model tests, and the message of an
// aiok::Error a call throws.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/data/feature_batch.h"

namespace aiok::models {

inline std::string ErrorOf(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline data::FeatureLayout Layout(int64_t dense, std::vector<int64_t> singles,
                                  std::vector<data::JaggedFeature> lists,
                                  data::Task task = data::Task::kBinary) {
  data::FeatureLayout layout;
  layout.task = task;
  for (int64_t i = 0; i < dense; ++i)
    layout.dense.push_back("d" + std::to_string(i));
  for (size_t i = 0; i < singles.size(); ++i)
    layout.categorical.push_back({"c" + std::to_string(i), singles[i]});
  layout.jagged = std::move(lists);
  return layout;
}

// Random rows of `layout`: list lengths 0..4 (so empty lists occur), ids within each table.
inline data::FeatureBatch RandomBatch(const data::FeatureLayout& layout, int64_t rows,
                                      uint64_t seed) {
  torch::manual_seed(seed);
  data::FeatureBatch batch = data::AllocateFeatureBatch(layout, rows, true);
  data::FeatureBatchStorage& s = *batch.storage;
  for (int64_t r = 0; r < rows; ++r) {
    s.labels[r] = static_cast<float>(r % 2);
    for (int64_t j = 0; j < layout.dense_width(); ++j)
      s.dense[r * layout.dense_width() + j] = torch::randn({}).item<float>();
    for (int64_t t = 0; t < layout.categorical_width(); ++t) {
      s.categorical[r * layout.categorical_width() + t] = static_cast<int32_t>(
          torch::randint(layout.categorical[t].cardinality, {}).item<int64_t>());
    }
    for (size_t f = 0; f < layout.jagged.size(); ++f) {
      const int64_t length = torch::randint(5, {}).item<int64_t>();
      for (int64_t k = 0; k < length; ++k) {
        s.values[f].push_back(
            static_cast<int32_t>(torch::randint(layout.jagged[f].cardinality, {}).item<int64_t>()));
      }
      s.offsets[f][r + 1] = static_cast<int64_t>(s.values[f].size());
    }
  }
  batch.ViewStorage();
  return batch;
}

}  // namespace aiok::models
