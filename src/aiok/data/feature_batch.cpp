#include "aiok/data/feature_batch.h"

#include <algorithm>

#include "aiok/core/error.h"

namespace aiok::data {

const char* TaskName(Task task) { return task == Task::kBinary ? "binary" : "regression"; }

Task ParseTask(const std::string& text, const std::string& where) {
  if (text == "binary")
    return Task::kBinary;
  if (text == "regression")
    return Task::kRegression;
  Throw(ErrorKind::kConfig, "{}: unknown task '{}' (valid: binary, regression)", where, text);
}

const char* JaggedKindName(JaggedFeature::Kind kind) {
  return kind == JaggedFeature::Kind::kSequence ? "sequence" : "multi_categorical";
}

std::vector<int64_t> FeatureLayout::cardinalities() const {
  std::vector<int64_t> sizes;
  sizes.reserve(categorical.size());
  for (const auto& field : categorical)
    sizes.push_back(field.cardinality);
  return sizes;
}

nlohmann::json FeatureLayout::ToJson() const {
  nlohmann::json categorical_json = nlohmann::json::array();
  for (const auto& field : categorical)
    categorical_json.push_back({{"name", field.name}, {"cardinality", field.cardinality}});
  nlohmann::json jagged_json = nlohmann::json::array();
  for (const auto& field : jagged) {
    jagged_json.push_back({{"name", field.name},
                           {"kind", JaggedKindName(field.kind)},
                           {"cardinality", field.cardinality},
                           {"max_length", field.max_length}});
  }
  return {{"task", TaskName(task)},
          {"dense", dense},
          {"categorical", categorical_json},
          {"jagged", jagged_json},
          {"weight", has_weight}};
}

FeatureLayout FeatureLayout::FromJson(const JsonField& json) {
  FeatureLayout layout;
  json.ExpectObject();
  layout.task = ParseTask(json["task"].Get<std::string>(), json["task"].Where());
  layout.dense = json["dense"].Get<std::vector<std::string>>();
  for (const JsonField& field : json["categorical"].Elements())
    layout.categorical.push_back(
        {field["name"].Get<std::string>(), field["cardinality"].Get<int64_t>()});
  for (const JsonField& field : json["jagged"].Elements()) {
    JaggedFeature jagged;
    jagged.name = field["name"].Get<std::string>();
    const std::string kind = field["kind"].Get<std::string>();
    AIOK_CHECK(kind == "sequence" || kind == "multi_categorical", ErrorKind::kInvalidInput,
               "{}: unknown kind '{}' (valid: multi_categorical, sequence)", field["kind"].Where(),
               kind);
    jagged.kind = kind == "sequence" ? JaggedFeature::Kind::kSequence
                                     : JaggedFeature::Kind::kMultiCategorical;
    jagged.cardinality = field["cardinality"].Get<int64_t>();
    jagged.max_length = field.Get<int64_t>("max_length", 0);
    layout.jagged.push_back(std::move(jagged));
  }
  layout.has_weight = json.Get<bool>("weight", false);
  return layout;
}

void FeatureBatch::ViewStorage() {
  if (!storage)
    return;
  FeatureBatchStorage& s = *storage;
  if (!s.labels.empty())
    labels = s.labels.data();
  if (!s.weights.empty())
    weights = s.weights.data();
  if (!s.dense.empty())
    dense = s.dense.data();
  if (!s.categorical.empty())
    categorical = s.categorical.data();
  if (!s.offsets.empty()) {
    jagged.resize(s.offsets.size());
    for (size_t f = 0; f < s.offsets.size(); ++f)
      jagged[f] = JaggedIds{s.offsets[f].data(), s.values[f].data()};
  }
}

FeatureBatch FeatureBatch::Slice(int64_t begin, int64_t count, const FeatureLayout& layout) const {
  FeatureBatch slice;
  slice.index = index;
  slice.rows = count;
  slice.storage = storage;  // shares the buffers, so the slice stays valid on its own too
  if (labels)
    slice.labels = labels + begin;
  if (weights)
    slice.weights = weights + begin;
  if (dense)
    slice.dense = dense + begin * layout.dense_width();
  if (categorical)
    slice.categorical = categorical + begin * layout.categorical_width();
  for (const JaggedIds& ids : jagged)
    slice.jagged.push_back(JaggedIds{ids.offsets + begin, ids.values});
  return slice;
}

FeatureBatch ConcatFeatureBatches(const std::vector<const FeatureBatch*>& parts,
                                  const FeatureLayout& layout) {
  int64_t rows = 0;
  bool labels = true;
  bool weights = true;
  for (const FeatureBatch* part : parts) {
    rows += part->rows;
    labels &= part->labels != nullptr;
    weights &= part->weights != nullptr;
  }
  FeatureBatch out = AllocateFeatureBatch(layout, rows, labels);
  FeatureBatchStorage& s = *out.storage;
  if (!weights)
    s.weights.clear();
  const auto n_dense = static_cast<size_t>(layout.dense_width());
  const auto n_cat = static_cast<size_t>(layout.categorical_width());
  size_t at = 0;
  for (const FeatureBatch* part : parts) {
    const auto n = static_cast<size_t>(part->rows);
    if (labels)
      std::copy(part->labels, part->labels + n, s.labels.begin() + at);
    if (weights && !s.weights.empty())
      std::copy(part->weights, part->weights + n, s.weights.begin() + at);
    std::copy(part->dense, part->dense + n * n_dense, s.dense.begin() + at * n_dense);
    std::copy(part->categorical, part->categorical + n * n_cat, s.categorical.begin() + at * n_cat);
    for (size_t f = 0; f < layout.jagged.size(); ++f) {
      const JaggedIds& ids = part->jagged[f];
      std::vector<int32_t>& values = s.values[f];
      for (size_t r = 0; r < n; ++r) {
        values.insert(values.end(), ids.values + ids.offsets[r], ids.values + ids.offsets[r + 1]);
        s.offsets[f][at + r + 1] = static_cast<int64_t>(values.size());
      }
    }
    at += n;
  }
  out.ViewStorage();
  return out;
}

FeatureBatch GatherFeatureRows(const FeatureBatch& batch, const FeatureLayout& layout,
                               const std::vector<int64_t>& rows) {
  FeatureBatch out = AllocateFeatureBatch(layout, static_cast<int64_t>(rows.size()),
                                          batch.labels != nullptr);
  FeatureBatchStorage& s = *out.storage;
  if (batch.weights == nullptr)
    s.weights.clear();
  const auto n_dense = static_cast<size_t>(layout.dense_width());
  const auto n_cat = static_cast<size_t>(layout.categorical_width());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto r = static_cast<size_t>(rows[i]);
    if (batch.labels != nullptr)
      s.labels[i] = batch.labels[r];
    if (!s.weights.empty())
      s.weights[i] = batch.weights[r];
    std::copy(batch.dense + r * n_dense, batch.dense + (r + 1) * n_dense,
              s.dense.begin() + static_cast<std::ptrdiff_t>(i * n_dense));
    std::copy(batch.categorical + r * n_cat, batch.categorical + (r + 1) * n_cat,
              s.categorical.begin() + static_cast<std::ptrdiff_t>(i * n_cat));
    for (size_t f = 0; f < layout.jagged.size(); ++f) {
      const JaggedIds& ids = batch.jagged[f];
      std::vector<int32_t>& values = s.values[f];
      values.insert(values.end(), ids.values + ids.offsets[r], ids.values + ids.offsets[r + 1]);
      s.offsets[f][i + 1] = static_cast<int64_t>(values.size());
    }
  }
  out.ViewStorage();
  return out;
}

FeatureBatch AllocateFeatureBatch(const FeatureLayout& layout, int64_t rows, bool with_labels) {
  FeatureBatch batch;
  batch.rows = rows;
  batch.storage = std::make_shared<FeatureBatchStorage>();
  FeatureBatchStorage& s = *batch.storage;
  const auto n = static_cast<size_t>(rows);
  if (with_labels)
    s.labels.resize(n);
  if (layout.has_weight)
    s.weights.assign(n, 1.0f);
  s.dense.resize(n * layout.dense.size());
  s.categorical.resize(n * layout.categorical.size());
  s.offsets.assign(layout.jagged.size(), std::vector<int64_t>(n + 1, 0));
  s.values.assign(layout.jagged.size(), std::vector<int32_t>());
  batch.ViewStorage();
  return batch;
}

}  // namespace aiok::data
