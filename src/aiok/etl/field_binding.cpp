#include "aiok/etl/field_binding.h"

#include <cmath>
#include <cstring>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"

namespace aiok::etl {
namespace {

bool IsDense(data::FieldRole role) { return role == data::FieldRole::kDense; }
bool IsCategorical(data::FieldRole role) { return role == data::FieldRole::kCategorical; }
bool IsJagged(data::FieldRole role) {
  return role == data::FieldRole::kMultiCategorical || role == data::FieldRole::kSequence;
}

int64_t SafeKey(int64_t key) { return key == kMissingValue ? INT64_MIN : key; }

}  // namespace

FieldBinding::FieldBinding(const data::TableSchema& schema, const Pipeline& pipeline) {
  size_t categorical = 0;
  for (size_t f = 0; f < schema.fields.size(); ++f) {
    const data::FieldRole role = schema.fields[f].role;
    const int index = static_cast<int>(f);
    if (IsDense(role))
      dense_fields.push_back(index);
    if (IsCategorical(role) || IsJagged(role)) {
      AIOK_ASSERT(categorical < pipeline.categorical().size() &&
                  pipeline.categorical()[categorical].column == schema.fields[f].name);
      (IsJagged(role) ? jagged_fields : categorical_fields).push_back(index);
      (IsJagged(role) ? jagged_chains : categorical_chains).push_back(categorical++);
    }
    if (role == data::FieldRole::kTimestamp)
      time_fields.push_back(index);
    if (role == data::FieldRole::kLabel)
      label_field = index;
    if (role == data::FieldRole::kWeight)
      weight_field = index;
  }
  AIOK_ASSERT(dense_fields.size() == pipeline.dense().size());
  AIOK_ASSERT(categorical == pipeline.categorical().size());
}

data::FeatureLayout FieldBinding::Layout(const data::TableSchema& schema, const Pipeline& pipeline,
                                         data::Task task) const {
  data::FeatureLayout layout;
  layout.task = task;
  for (int f : dense_fields)
    layout.dense.push_back(schema.fields[static_cast<size_t>(f)].name);
  for (size_t c = 0; c < categorical_fields.size(); ++c) {
    layout.categorical.push_back(
        {schema.fields[static_cast<size_t>(categorical_fields[c])].name,
         pipeline.categorical()[categorical_chains[c]].ops.back()->cardinality()});
  }
  for (int f : time_fields) {
    const std::string& name = schema.fields[static_cast<size_t>(f)].name;
    layout.categorical.push_back({name + ".hour", kHourIds});
    layout.categorical.push_back({name + ".weekday", kWeekdayIds});
  }
  for (size_t j = 0; j < jagged_fields.size(); ++j) {
    const data::Field& field = schema.fields[static_cast<size_t>(jagged_fields[j])];
    data::JaggedFeature jagged;
    jagged.name = field.name;
    jagged.kind = field.role == data::FieldRole::kSequence
                      ? data::JaggedFeature::Kind::kSequence
                      : data::JaggedFeature::Kind::kMultiCategorical;
    jagged.cardinality = pipeline.categorical()[jagged_chains[j]].ops.back()->cardinality();
    layout.jagged.push_back(std::move(jagged));
  }
  layout.has_weight = weight_field >= 0;
  return layout;
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

uint64_t HashBytes(std::string_view text) {
  // 8 bytes at a time through SplitMix64's finalizer; the length goes in first and last.
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

void TimeParts(const data::ColumnValues& column, size_t rows, size_t stride, int32_t* hours,
               int32_t* weekdays) {
  for (size_t r = 0; r < rows; ++r) {
    const int64_t seconds = column.ints[r];
    const int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
    const bool valid = column.valid[r] != 0;
    hours[r * stride] = valid ? static_cast<int32_t>(1 + (seconds - days * 86400) / 3600) : 0;
    // 1970-01-01 was a Thursday: weekday 1 is Monday.
    weekdays[r * stride] = valid ? static_cast<int32_t>(1 + ((days % 7 + 7 + 3) % 7)) : 0;
  }
}

}  // namespace aiok::etl
