#include "aiok/etl/field_binding.h"

#include <cmath>
#include <cstring>

#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/etl/time_operators.h"

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
  for (size_t f = 0; f < schema.fields.size(); ++f) {
    const data::FieldRole role = schema.fields[f].role;
    if (role == data::FieldRole::kTimestamp)
      time_fields.push_back(static_cast<int>(f));
    if (role == data::FieldRole::kLabel)
      label_field = static_cast<int>(f);
    if (role == data::FieldRole::kWeight)
      weight_field = static_cast<int>(f);
  }
  const std::vector<const ColumnChain*> all = pipeline.chains();
  for (size_t c = 0; c < all.size(); ++c) {
    const ColumnChain& chain = *all[c];
    BoundChain bound;
    bound.chain = c;
    for (const std::string& input : chain.inputs) {
      const int field = schema.Find(input);
      AIOK_ASSERT(field >= 0);
      bound.fields.push_back(field);
      const data::Field& f = schema.fields[static_cast<size_t>(field)];
      const bool list = IsJagged(f.role);
      AIOK_CHECK(!list || chain.inputs.size() == 1, ErrorKind::kConfig,
                 "pipeline: {}: the list field {} cannot be an input of a derived field",
                 chain.column, input);
      bound.list = list;
    }
    CheckDatetimePartsChain(schema, chain);
    bound.output = chain.output_kind();
    AIOK_CHECK(!bound.list || bound.output == ColumnKind::kCategorical, ErrorKind::kConfig,
               "pipeline: the list field {} must end in ids (its chain ends with dense values)",
               chain.column);
    if (bound.list) {
      bound.slot = jagged_features++;
    } else if (bound.output == ColumnKind::kDense) {
      bound.slot = dense_features++;
    } else {
      bound.slot = scalar_categorical++;
    }
    chains.push_back(std::move(bound));
  }
}

data::FeatureLayout FieldBinding::Layout(const data::TableSchema& schema, const Pipeline& pipeline,
                                         data::Task task) const {
  data::FeatureLayout layout;
  layout.task = task;
  layout.dense.resize(dense_features);
  layout.categorical.resize(scalar_categorical);
  layout.jagged.resize(jagged_features);
  const std::vector<const ColumnChain*> all = pipeline.chains();
  for (const BoundChain& bound : chains) {
    const ColumnChain& chain = *all[bound.chain];
    if (bound.list) {
      const data::Field& field = schema.fields[static_cast<size_t>(bound.fields[0])];
      data::JaggedFeature& jagged = layout.jagged[bound.slot];
      jagged.name = chain.column;
      jagged.kind = field.role == data::FieldRole::kSequence
                        ? data::JaggedFeature::Kind::kSequence
                        : data::JaggedFeature::Kind::kMultiCategorical;
      jagged.cardinality = chain.ops.back()->cardinality();
    } else if (bound.output == ColumnKind::kDense) {
      layout.dense[bound.slot] = chain.column;
    } else {
      layout.categorical[bound.slot] = {chain.column, chain.ops.back()->cardinality()};
    }
  }
  for (int f : time_fields) {
    const std::string& name = schema.fields[static_cast<size_t>(f)].name;
    layout.categorical.push_back({name + ".hour", kHourIds});
    layout.categorical.push_back({name + ".weekday", kWeekdayIds});
  }
  layout.has_weight = weight_field >= 0;
  return layout;
}

std::vector<ChainColumn> ChainInputs(const BoundChain& bound, const ColumnChain& chain,
                                     const data::TableBatch& batch, size_t rows) {
  std::vector<ChainColumn> inputs;
  for (const int field : bound.fields) {
    const data::ColumnValues& column = batch.columns[static_cast<size_t>(field)];
    const size_t n = bound.list ? static_cast<size_t>(column.list_offsets[rows]) : rows;
    ChainColumn input;
    input.kind = chain.kind;
    if (chain.kind == ColumnKind::kDense) {
      input.dense.resize(n);
      DenseValues(column, 0, n, input.dense.data());
    } else {
      input.ids.resize(n);
      CategoricalKeys(column, 0, n, input.ids.data());
    }
    inputs.push_back(std::move(input));
  }
  return inputs;
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
