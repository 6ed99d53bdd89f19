#include "aiok/models/model.h"

#include <ATen/core/Tensor.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "aiok/core/error.h"
#include "aiok/models/dien_model.h"
#include "aiok/models/dlrm_model.h"
#include "aiok/models/wide_deep_model.h"

namespace aiok::models {

at::Tensor Model::AuxiliaryLoss() { return {}; }

nlohmann::json ModelOptionsToJson(ModelOptions& options) {
  nlohmann::json out = nlohmann::json::object();
  detail::OptionJsonWriter writer(&out);
  options.Visit(writer);
  return out;
}

void ModelOptionsFromJson(ModelOptions& options, const nlohmann::json& json,
                          const std::string& owner) {
  detail::OptionJsonReader reader(&json, owner);
  options.Visit(reader);
  reader.CheckAllKeysUsed();
  detail::OptionValidator validator(owner);
  options.Visit(validator);
}

void ModelRegistry::Register(const std::string& name, const std::string& description,
                             OptionsFactory options, Builder build, Rebuilder rebuild) {
  AIOK_ASSERT(entries_.count(name) == 0);
  entries_[name] = Entry{description, std::move(options), std::move(build), std::move(rebuild)};
}

std::vector<std::string> ModelRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_)
    names.push_back(name);
  return names;
}

const ModelRegistry::Entry& ModelRegistry::Find(const std::string& name) const {
  auto it = entries_.find(name);
  AIOK_CHECK(it != entries_.end(), ErrorKind::kConfig, "unknown model '{}' (valid: {})", name,
             fmt::join(Names(), ", "));
  return it->second;
}

const std::string& ModelRegistry::Description(const std::string& name) const {
  return Find(name).description;
}

std::unique_ptr<ModelOptions> ModelRegistry::DefaultOptions(const std::string& name) const {
  return Find(name).options();
}

nlohmann::json ModelRegistry::ResolveOptions(const std::string& name, const nlohmann::json& options,
                                             const std::string& owner) const {
  std::unique_ptr<ModelOptions> declared = DefaultOptions(name);
  if (!options.is_null())
    ModelOptionsFromJson(*declared, options, owner);
  return ModelOptionsToJson(*declared);
}

std::unique_ptr<Model> ModelRegistry::Create(const std::string& name,
                                             const data::FeatureLayout& layout,
                                             const nlohmann::json& options) const {
  const Entry& entry = Find(name);
  return entry.build(layout, ResolveOptions(name, options, name));
}

std::unique_ptr<Model> ModelRegistry::FromArchitecture(const std::string& name,
                                                       const nlohmann::json& architecture) const {
  return Find(name).rebuild(architecture);
}

void CheckLayoutShapes(const char* model, int64_t dense, const std::vector<int64_t>& tables,
                       const std::vector<int64_t>& lists, const data::FeatureLayout& layout) {
  std::vector<int64_t> layout_lists;
  for (const data::JaggedFeature& field : layout.jagged)
    layout_lists.push_back(field.cardinality);
  AIOK_CHECK(
      layout.dense_width() == dense && layout.cardinalities() == tables && layout_lists == lists,
      ErrorKind::kInvalidInput,
      "{}: the model takes {} dense fields, categorical tables of [{}] rows and list "
      "tables of [{}]; the data has {}, [{}] and [{}]",
      model, dense, fmt::join(tables, ", "), fmt::join(lists, ", "), layout.dense_width(),
      fmt::join(layout.cardinalities(), ", "), fmt::join(layout_lists, ", "));
}

void CheckBatchBlocks(const char* who, int64_t dense, size_t tables, size_t lists,
                      const data::FeatureBatch& batch) {
  AIOK_CHECK(batch.jagged.size() == lists, ErrorKind::kInvalidInput,
             "{}: the batch has {} list fields, the model takes {}", who, batch.jagged.size(),
             lists);
  const bool no_dense = dense > 0 && batch.dense == nullptr;
  const bool no_ids = tables > 0 && batch.categorical == nullptr;
  AIOK_CHECK(batch.rows == 0 || (!no_dense && !no_ids), ErrorKind::kInvalidInput,
             "{}: the batch has no {} block; the model reads {} dense and {} categorical fields",
             who, no_dense ? "dense" : "categorical", dense, tables);
}

void RegisterBuiltinModels(ModelRegistry& registry) {
  RegisterDlrmModel(registry);
  RegisterDienModel(registry);
  RegisterWideDeepModel(registry);
}

const ModelRegistry& BuiltinModels() {
  static const ModelRegistry registry = [] {
    ModelRegistry r;
    RegisterBuiltinModels(r);
    return r;
  }();
  return registry;
}

}  // namespace aiok::models
