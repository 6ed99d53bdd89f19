#include "aiok/train/evaluation.h"

#include <memory>
#include <vector>

#include "aiok/data/mapped_file.h"
#include "aiok/loader/data_loader.h"

namespace aiok::train {

SplitMetrics Evaluate(const models::InferenceEngine& engine, data::Task task,
                      const std::string& dir, const std::string& split, int64_t batch_size) {
  loader::LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = false;
  options.workers = 1;
  loader::DataLoader loader(dir, split, options);
  std::vector<float> predictions;
  std::vector<float> labels;
  predictions.reserve(static_cast<size_t>(loader.rows()));
  labels.reserve(static_cast<size_t>(loader.rows()));
  while (auto batch = loader.Next()) {
    const size_t first = predictions.size();
    predictions.resize(first + static_cast<size_t>(batch->rows));
    engine.Predict(*batch, predictions.data() + first);
    labels.insert(labels.end(), batch->labels, batch->labels + batch->rows);
  }
  const auto& info = loader.schema().split(split);
  std::unique_ptr<data::MappedFile> truth;
  if (task == data::Task::kBinary && !info.truth_file.empty())
    truth = std::make_unique<data::MappedFile>(dir + "/" + info.truth_file);
  const bool truth_fits = truth && truth->size() == labels.size() * sizeof(float);
  return ComputeMetrics(task, predictions.data(), labels.data(), labels.size(),
                        truth_fits ? reinterpret_cast<const float*>(truth->data()) : nullptr);
}

}  // namespace aiok::train
