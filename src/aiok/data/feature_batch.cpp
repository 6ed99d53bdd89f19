#include "aiok/data/feature_batch.h"

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

FeatureLayout FeatureLayout::FromJson(const nlohmann::json& json, const std::string& source) {
  try {
    FeatureLayout layout;
    layout.task = ParseTask(json.at("task").get<std::string>(), source + ": features.task");
    layout.dense = json.at("dense").get<std::vector<std::string>>();
    for (const auto& field : json.at("categorical")) {
      layout.categorical.push_back(
          {field.at("name").get<std::string>(), field.at("cardinality").get<int64_t>()});
    }
    for (const auto& field : json.at("jagged")) {
      JaggedFeature jagged;
      jagged.name = field.at("name").get<std::string>();
      const std::string kind = field.at("kind").get<std::string>();
      AIOK_CHECK(kind == "sequence" || kind == "multi_categorical", ErrorKind::kInvalidInput,
                 "{}: field {}: unknown kind '{}' (valid: multi_categorical, sequence)", source,
                 jagged.name, kind);
      jagged.kind = kind == "sequence" ? JaggedFeature::Kind::kSequence
                                       : JaggedFeature::Kind::kMultiCategorical;
      jagged.cardinality = field.at("cardinality").get<int64_t>();
      jagged.max_length = field.value("max_length", int64_t{0});
      layout.jagged.push_back(std::move(jagged));
    }
    layout.has_weight = json.value("weight", false);
    return layout;
  } catch (const nlohmann::json::exception& e) {
    Throw(ErrorKind::kInvalidInput, "{}: not a valid feature layout: {}", source, e.what());
  }
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
