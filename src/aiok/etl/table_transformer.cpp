#include "aiok/etl/table_transformer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/core/suggest.h"

namespace aiok::etl {
namespace {

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

PipelineSpec CompletePipeline(const PipelineSpec& spec, const data::TableSchema& schema,
                              int64_t freq_threshold, const std::string& source) {
  PipelineSpec complete = spec;
  std::set<std::string> covered;
  const std::vector<std::string> names = schema.Names();
  // The fields a pipeline binds, as Pipeline and FieldBinding bind them.
  const std::vector<std::string> dense_fields = DenseFieldNames(schema);
  const std::vector<std::string> categorical_fields = CategoricalFieldNames(schema);
  auto contains = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (size_t s = 0; s < spec.steps.size(); ++s) {
    for (const std::string& column : spec.steps[s].columns) {
      const int index = schema.Find(column);
      if (index < 0) {
        Throw(ErrorKind::kConfig, "{}: step {}: no field '{}' in the input{} (fields: {})", source,
              s + 1, column, DidYouMean(column, names), fmt::join(names, ", "));
      }
      const data::Field& field = schema.fields[static_cast<size_t>(index)];
      AIOK_CHECK(contains(dense_fields, column) || contains(categorical_fields, column),
                 ErrorKind::kConfig,
                 "{}: step {}: field '{}' has role {}; pipeline steps take dense, categorical, "
                 "multi_categorical and sequence fields",
                 source, s + 1, column, data::FieldRoleName(field.role));
      if (!spec.steps[s].derived)
        covered.insert(column);  // a derived field's inputs keep chains of their own
    }
  }
  std::vector<std::string> dense;
  for (const std::string& name : dense_fields) {
    if (!covered.count(name))
      dense.push_back(name);
  }
  std::vector<std::string> categorical;
  for (const std::string& name : categorical_fields) {
    if (!covered.count(name))
      categorical.push_back(name);
  }
  if (!dense.empty()) {
    PipelineStep step;
    step.columns = dense;
    step.ops = {OperatorSpec{"fill_missing", {{"strategy", "median"}}},
                OperatorSpec{"normalize", {{"method", "standard"}}}};
    complete.steps.push_back(std::move(step));
  }
  if (!categorical.empty()) {
    PipelineStep step;
    step.columns = categorical;
    step.ops = {OperatorSpec{"categorify", {{"freq_threshold", freq_threshold}}}};
    complete.steps.push_back(std::move(step));
  }
  return complete;
}

TableTransformer::TableTransformer(const data::TableSchema& schema, const Pipeline& pipeline,
                                   LabelMapping label)
    : schema_(schema), pipeline_(pipeline), label_(std::move(label)), binding_(schema_, pipeline) {}

data::FeatureLayout TableTransformer::Layout() const {
  return binding_.Layout(schema_, pipeline_, label_.task);
}

data::FeatureBatch TableTransformer::Transform(const data::TableBatch& batch,
                                               bool with_labels) const {
  const FieldBinding& b = binding_;
  const auto rows = static_cast<size_t>(batch.rows);
  data::FeatureLayout layout = Layout();
  layout.has_weight = with_labels && b.weight_field >= 0;
  data::FeatureBatch out = data::AllocateFeatureBatch(layout, batch.rows, with_labels);
  data::FeatureBatchStorage& s = *out.storage;
  auto column_of = [&](int field) -> const data::ColumnValues& {
    return batch.columns[static_cast<size_t>(field)];
  };
  // Each chain over its inputs, its output into the row-major blocks.
  const size_t n_dense = b.dense_features;
  const size_t n_cat = b.categorical_features();
  const std::vector<const ColumnChain*> chains = pipeline_.chains();
  for (const BoundChain& bound : b.chains) {
    const ColumnChain& chain = *chains[bound.chain];
    std::vector<ChainColumn> inputs = ChainInputs(bound, chain, batch, rows);
    const size_t n = bound.list ? inputs[0].ids.size() : rows;
    const ChainColumn result = chain.Run(std::move(inputs), n, chain.ops.size());
    if (bound.list) {
      const data::ColumnValues& column = column_of(bound.fields[0]);
      s.values[bound.slot].assign(result.ids.begin(), result.ids.end());
      for (size_t r = 0; r <= rows; ++r)
        s.offsets[bound.slot][r] = column.list_offsets[r];
    } else if (bound.output == ColumnKind::kDense) {
      for (size_t r = 0; r < rows; ++r)
        s.dense[r * n_dense + bound.slot] = static_cast<float>(result.dense[r]);
    } else {
      for (size_t r = 0; r < rows; ++r)
        s.categorical[r * n_cat + bound.slot] = static_cast<int32_t>(result.ids[r]);
    }
  }
  for (size_t t = 0; t < b.time_fields.size() && rows > 0; ++t) {
    const size_t hour = b.scalar_categorical + 2 * t;
    TimeParts(column_of(b.time_fields[t]), rows, n_cat, s.categorical.data() + hour,
              s.categorical.data() + hour + 1);
  }
  if (with_labels) {
    AIOK_CHECK(b.label_field >= 0, ErrorKind::kInvalidInput,
               "the input has no label field: cannot make labelled rows");
    const data::ColumnValues& labels = column_of(b.label_field);
    std::string problem;
    for (size_t r = 0; r < rows; ++r) {
      AIOK_CHECK(label_.Map(labels, r, &s.labels[r], &problem), ErrorKind::kInvalidInput,
                 "row {}: expected {}", batch.first_row + static_cast<int64_t>(r) + 1, problem);
    }
    if (b.weight_field >= 0) {
      std::vector<double> weights(rows);
      DenseValues(column_of(b.weight_field), 0, rows, weights.data());
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
