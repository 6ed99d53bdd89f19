#include "aiok/etl/table_transformer.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <set>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/core/suggest.h"

namespace aiok::etl {
namespace {

bool IsDense(data::FieldRole role) { return role == data::FieldRole::kDense; }
bool IsCategorical(data::FieldRole role) { return role == data::FieldRole::kCategorical; }
bool IsJagged(data::FieldRole role) {
  return role == data::FieldRole::kMultiCategorical || role == data::FieldRole::kSequence;
}

constexpr int64_t kHours = 24;
constexpr int64_t kWeekdays = 7;

int64_t SafeKey(int64_t key) { return key == kMissingValue ? INT64_MIN : key; }

// A stable 64-bit hash of a string's bytes (8 bytes at a time through SplitMix64).
uint64_t HashBytes(std::string_view text) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ text.size();
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, text.data() + i, 8);
    h = Mix64(h ^ chunk);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, text.data() + i, text.size() - i);
  return Mix64(h ^ tail ^ (uint64_t{text.size() - i} << 56));
}

// The value of row `row` of a scalar column as text, for label mappings.
std::string ValueText(const data::ColumnValues& column, size_t row) {
  switch (column.type.value) {
    case data::ValueType::kInt64:
    case data::ValueType::kTimestamp:
      return std::to_string(column.ints[row]);
    case data::ValueType::kUInt64:
      return std::to_string(column.uints[row]);
    case data::ValueType::kFloat64:
      return fmt::format("{}", column.reals[row]);
    case data::ValueType::kString:
      return std::string(column.string(row));
  }
  return "";
}

}  // namespace

nlohmann::json LabelMapping::ToJson() const {
  nlohmann::json json = {{"task", data::TaskName(task)}};
  if (!positive.empty()) {
    json["positive"] = positive;
    json["negative"] = negative;
  }
  return json;
}

LabelMapping LabelMapping::FromJson(const nlohmann::json& json, const std::string& source) {
  LabelMapping mapping;
  AIOK_CHECK(json.is_object() && json.contains("task") && json.at("task").is_string(),
             ErrorKind::kInvalidInput, "{}: label mapping: expected an object with 'task'",
             source);
  mapping.task = data::ParseTask(json.at("task").get<std::string>(), source + ": label mapping");
  mapping.positive = json.value("positive", "");
  mapping.negative = json.value("negative", "");
  return mapping;
}

bool LabelMapping::Map(const data::ColumnValues& column, size_t row, float* label,
                       std::string* problem) const {
  if (!column.valid[row]) {
    *problem = "a label, found a missing value";
    return false;
  }
  if (!positive.empty()) {
    const std::string text = ValueText(column, row);
    if (text == positive || text == negative) {
      *label = text == positive ? 1.0f : 0.0f;
      return true;
    }
    *problem = fmt::format("label '{}' or '{}', found '{}'", positive, negative, text);
    return false;
  }
  double value = 0;
  switch (column.type.value) {
    case data::ValueType::kInt64:
      value = static_cast<double>(column.ints[row]);
      break;
    case data::ValueType::kUInt64:
      value = static_cast<double>(column.uints[row]);
      break;
    case data::ValueType::kFloat64:
      value = column.reals[row];
      break;
    default:
      *problem = "a numeric label (or a label mapping for text labels)";
      return false;
  }
  if (task == data::Task::kBinary && value != 0.0 && value != 1.0) {
    *problem = fmt::format("a binary label 0 or 1, found {}", value);
    return false;
  }
  if (!std::isfinite(value)) {
    *problem = fmt::format("a finite label, found {}", value);
    return false;
  }
  *label = static_cast<float>(value);
  return true;
}

std::vector<std::string> DenseFieldNames(const data::TableSchema& schema) {
  std::vector<std::string> names;
  for (const auto& field : schema.fields) {
    if (IsDense(field.role))
      names.push_back(field.name);
  }
  return names;
}

std::vector<std::string> CategoricalFieldNames(const data::TableSchema& schema) {
  std::vector<std::string> names;
  for (const auto& field : schema.fields) {
    if (IsCategorical(field.role) || IsJagged(field.role))
      names.push_back(field.name);
  }
  return names;
}

PipelineSpec CompletePipeline(const PipelineSpec& spec, const data::TableSchema& schema,
                              int64_t freq_threshold, const std::string& source) {
  PipelineSpec complete = spec;
  std::set<std::string> covered;
  const std::vector<std::string> names = schema.Names();
  for (size_t s = 0; s < spec.steps.size(); ++s) {
    for (const std::string& column : spec.steps[s].columns) {
      const int index = schema.Find(column);
      if (index < 0) {
        Throw(ErrorKind::kConfig, "{}: step {}: no field '{}' in the input{} (fields: {})", source,
              s + 1, column, DidYouMean(column, names), fmt::join(names, ", "));
      }
      const data::Field& field = schema.fields[static_cast<size_t>(index)];
      AIOK_CHECK(IsDense(field.role) || IsCategorical(field.role) || IsJagged(field.role),
                 ErrorKind::kConfig,
                 "{}: step {}: field '{}' has role {}; pipeline steps take dense, categorical, "
                 "multi_categorical and sequence fields",
                 source, s + 1, column, data::FieldRoleName(field.role));
      covered.insert(column);
    }
  }
  std::vector<std::string> dense;
  std::vector<std::string> categorical;
  for (const auto& field : schema.fields) {
    if (covered.count(field.name))
      continue;
    if (IsDense(field.role))
      dense.push_back(field.name);
    if (IsCategorical(field.role) || IsJagged(field.role))
      categorical.push_back(field.name);
  }
  if (!dense.empty()) {
    complete.steps.push_back(PipelineStep{
        dense,
        {OperatorSpec{"fill_missing", {{"strategy", "median"}}},
         OperatorSpec{"normalize", {{"method", "standard"}}}}});
  }
  if (!categorical.empty()) {
    complete.steps.push_back(PipelineStep{
        categorical, {OperatorSpec{"categorify", {{"freq_threshold", freq_threshold}}}}});
  }
  return complete;
}

void CategoricalKeys(const data::ColumnValues& column, size_t begin, size_t end, int64_t* keys) {
  const bool scalar = !column.type.list;
  for (size_t i = begin; i < end; ++i) {
    int64_t key;
    switch (column.type.value) {
      case data::ValueType::kInt64:
      case data::ValueType::kTimestamp:
        key = column.ints[i];
        break;
      case data::ValueType::kUInt64:
        key = static_cast<int64_t>(column.uints[i]);
        break;
      case data::ValueType::kFloat64:
        uint64_t bits;
        std::memcpy(&bits, &column.reals[i], sizeof bits);
        key = static_cast<int64_t>(Mix64(bits));
        break;
      case data::ValueType::kString:
      default:
        key = static_cast<int64_t>(HashBytes(column.string(i)));
        break;
    }
    keys[i - begin] = scalar && !column.valid[i] ? kMissingValue : SafeKey(key);
  }
}

void DenseValues(const data::ColumnValues& column, size_t begin, size_t end, double* values) {
  for (size_t i = begin; i < end; ++i) {
    double v = 0;
    switch (column.type.value) {
      case data::ValueType::kInt64:
      case data::ValueType::kTimestamp:
        v = static_cast<double>(column.ints[i]);
        break;
      case data::ValueType::kUInt64:
        v = static_cast<double>(column.uints[i]);
        break;
      case data::ValueType::kFloat64:
        v = column.reals[i];
        break;
      case data::ValueType::kString:
        v = NAN;
        break;
    }
    values[i - begin] = column.valid[i] ? v : NAN;
  }
}

TableTransformer::TableTransformer(const data::TableSchema& schema, const Pipeline& pipeline,
                                   LabelMapping label)
    : schema_(schema), pipeline_(pipeline), label_(std::move(label)) {
  size_t categorical = 0;
  for (size_t f = 0; f < schema_.fields.size(); ++f) {
    const data::FieldRole role = schema_.fields[f].role;
    const int index = static_cast<int>(f);
    if (IsDense(role))
      dense_fields_.push_back(index);
    if (IsCategorical(role) || IsJagged(role)) {
      const ColumnChain* chain = &pipeline_.categorical()[categorical++];
      AIOK_ASSERT(chain->column == schema_.fields[f].name);
      (IsJagged(role) ? jagged_fields_ : categorical_fields_).push_back(index);
      (IsJagged(role) ? jagged_chains_ : categorical_chains_).push_back(chain);
    }
    if (role == data::FieldRole::kTimestamp)
      time_fields_.push_back(index);
    if (role == data::FieldRole::kLabel)
      label_field_ = index;
    if (role == data::FieldRole::kWeight)
      weight_field_ = index;
  }
  AIOK_ASSERT(dense_fields_.size() == pipeline_.dense().size());
  AIOK_ASSERT(categorical == pipeline_.categorical().size());
}

data::FeatureLayout TableTransformer::Layout() const {
  data::FeatureLayout layout;
  layout.task = label_.task;
  for (int f : dense_fields_)
    layout.dense.push_back(schema_.fields[static_cast<size_t>(f)].name);
  for (size_t c = 0; c < categorical_fields_.size(); ++c) {
    layout.categorical.push_back({schema_.fields[static_cast<size_t>(categorical_fields_[c])].name,
                                  categorical_chains_[c]->ops.back()->cardinality()});
  }
  for (int f : time_fields_) {
    const std::string& name = schema_.fields[static_cast<size_t>(f)].name;
    layout.categorical.push_back({name + ".hour", 1 + kHours});
    layout.categorical.push_back({name + ".weekday", 1 + kWeekdays});
  }
  for (size_t j = 0; j < jagged_fields_.size(); ++j) {
    const data::Field& field = schema_.fields[static_cast<size_t>(jagged_fields_[j])];
    data::JaggedFeature jagged;
    jagged.name = field.name;
    jagged.kind = field.role == data::FieldRole::kSequence
                      ? data::JaggedFeature::Kind::kSequence
                      : data::JaggedFeature::Kind::kMultiCategorical;
    jagged.cardinality = jagged_chains_[j]->ops.back()->cardinality();
    layout.jagged.push_back(std::move(jagged));
  }
  layout.has_weight = weight_field_ >= 0;
  return layout;
}

data::FeatureBatch TableTransformer::Transform(const data::TableBatch& batch,
                                               bool with_labels) const {
  const auto rows = static_cast<size_t>(batch.rows);
  data::FeatureLayout layout = Layout();
  layout.has_weight = with_labels && weight_field_ >= 0;
  data::FeatureBatch out = data::AllocateFeatureBatch(layout, batch.rows, with_labels);
  data::FeatureBatchStorage& s = *out.storage;
  // Dense: each chain over its column, then into the row-major block.
  const size_t n_dense = dense_fields_.size();
  std::vector<double> values(rows);
  for (size_t d = 0; d < n_dense; ++d) {
    DenseValues(batch.columns[static_cast<size_t>(dense_fields_[d])], 0, rows, values.data());
    const ColumnChain& chain = pipeline_.dense()[d];
    chain.TransformDensePrefix(values.data(), rows, chain.ops.size());
    for (size_t r = 0; r < rows; ++r)
      s.dense[r * n_dense + d] = static_cast<float>(values[r]);
  }
  const size_t n_cat = categorical_fields_.size() + 2 * time_fields_.size();
  std::vector<int64_t> keys;
  std::vector<int64_t> ids;
  for (size_t t = 0; t < time_fields_.size(); ++t) {
    const data::ColumnValues& column = batch.columns[static_cast<size_t>(time_fields_[t])];
    const size_t hour = categorical_fields_.size() + 2 * t;
    for (size_t r = 0; r < rows; ++r) {
      const int64_t seconds = column.ints[r];
      const int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
      const bool valid = column.valid[r] != 0;
      // 1970-01-01 was a Thursday: weekday 0 is Monday.
      s.categorical[r * n_cat + hour] =
          valid ? static_cast<int32_t>(1 + (seconds - days * 86400) / 3600) : 0;
      s.categorical[r * n_cat + hour + 1] =
          valid ? static_cast<int32_t>(1 + ((days % 7 + 7 + 3) % 7)) : 0;
    }
  }
  for (size_t c = 0; c < categorical_fields_.size(); ++c) {
    keys.resize(rows);
    ids.resize(rows);
    CategoricalKeys(batch.columns[static_cast<size_t>(categorical_fields_[c])], 0, rows,
                    keys.data());
    categorical_chains_[c]->ops.back()->TransformCategorical(keys.data(), rows, ids.data());
    for (size_t r = 0; r < rows; ++r)
      s.categorical[r * n_cat + c] = static_cast<int32_t>(ids[r]);
  }
  for (size_t j = 0; j < jagged_fields_.size(); ++j) {
    const data::ColumnValues& column = batch.columns[static_cast<size_t>(jagged_fields_[j])];
    const size_t elements = column.values();
    keys.resize(elements);
    ids.resize(elements);
    CategoricalKeys(column, 0, elements, keys.data());
    jagged_chains_[j]->ops.back()->TransformCategorical(keys.data(), elements, ids.data());
    s.values[j].assign(ids.begin(), ids.end());
    for (size_t r = 0; r <= rows; ++r)
      s.offsets[j][r] = column.list_offsets[r];
  }
  if (with_labels) {
    AIOK_CHECK(label_field_ >= 0, ErrorKind::kInvalidInput,
               "the input has no label field: cannot make labelled rows");
    const data::ColumnValues& labels = batch.columns[static_cast<size_t>(label_field_)];
    std::string problem;
    for (size_t r = 0; r < rows; ++r) {
      AIOK_CHECK(label_.Map(labels, r, &s.labels[r], &problem), ErrorKind::kInvalidInput,
                 "row {}: expected {}", batch.first_row + static_cast<int64_t>(r) + 1, problem);
    }
    if (weight_field_ >= 0) {
      std::vector<double> weights(rows);
      DenseValues(batch.columns[static_cast<size_t>(weight_field_)], 0, rows, weights.data());
      for (size_t r = 0; r < rows; ++r) {
        AIOK_CHECK(std::isfinite(weights[r]) && weights[r] >= 0, ErrorKind::kInvalidInput,
                   "row {}: expected a finite non-negative weight, found {}",
                   batch.first_row + static_cast<int64_t>(r) + 1, weights[r]);
        s.weights[r] = static_cast<float>(weights[r]);
      }
    }
  }
  out.ViewStorage();
  return out;
}

}  // namespace aiok::etl
