#include "aiok/etl/prepare_lookup.h"

#include <fmt/format.h>

#include <cstring>

#include "aiok/core/atomic_file.h"
#include "aiok/core/context.h"
#include "aiok/core/error.h"
#include "aiok/core/json_fields.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/text_table_reader.h"
#include "aiok/etl/prepare_runner.h"

namespace aiok::etl {
namespace {

// Value i of a scalar column as bytes that compare equal exactly when the values do.
void AppendKey(const data::ColumnValues& column, size_t i, std::string* key) {
  auto raw = [&](const void* p, size_t n) { key->append(static_cast<const char*>(p), n); };
  switch (column.type.value) {
    case data::ValueType::kInt64:
    case data::ValueType::kTimestamp:
      raw(&column.ints[i], sizeof(int64_t));
      break;
    case data::ValueType::kUInt64:
      raw(&column.uints[i], sizeof(uint64_t));
      break;
    case data::ValueType::kFloat64:
      raw(&column.reals[i], sizeof(double));
      break;
    case data::ValueType::kString: {
      const std::string_view text = column.string(i);
      const auto size = static_cast<uint32_t>(text.size());
      raw(&size, sizeof size);
      raw(text.data(), text.size());
      break;
    }
  }
}

// Appends value i (a scalar's, or a list element's) of `from` to `to`.
void AppendValue(const data::ColumnValues& from, size_t i, data::ColumnValues* to) {
  switch (from.type.value) {
    case data::ValueType::kInt64:
    case data::ValueType::kTimestamp:
      to->ints.push_back(from.ints[i]);
      break;
    case data::ValueType::kUInt64:
      to->uints.push_back(from.uints[i]);
      break;
    case data::ValueType::kFloat64:
      to->reals.push_back(from.reals[i]);
      break;
    case data::ValueType::kString: {
      const std::string_view text = from.string(i);
      to->bytes.append(text.data(), text.size());
      to->ends.push_back(static_cast<uint32_t>(to->bytes.size()));
      break;
    }
  }
}

// Appends row `row` of `from` to `to` (a missing row stays missing).
void AppendRow(const data::ColumnValues& from, size_t row, data::ColumnValues* to) {
  to->valid.push_back(from.valid[row]);
  if (!from.type.list) {
    AppendValue(from, row, to);
    return;
  }
  for (int64_t i = from.list_offsets[row]; i < from.list_offsets[row + 1]; ++i)
    AppendValue(from, static_cast<size_t>(i), to);
  to->list_offsets.push_back(static_cast<int64_t>(to->values()));
}

// Appends a missing value (or 0, for counts) to `to`.
void AppendAbsent(bool zero, data::ColumnValues* to) {
  to->valid.push_back(zero ? 1 : 0);
  if (to->type.list) {
    to->list_offsets.push_back(static_cast<int64_t>(to->values()));
    return;
  }
  data::ParseValue(to->type.value == data::ValueType::kString ? "" : "0", to->type, to);
}

}  // namespace

PrepareLookups::PrepareLookups(const std::string& dir, const data::TableSchema& schema, int threads)
    : schema_(schema) {
  const std::string manifest_path = dir + "/" + kLookupManifest;
  const nlohmann::json manifest = ParseJsonText(ReadFile(manifest_path), manifest_path);
  const JsonField lookups = JsonField(manifest, manifest_path)["lookups"];
  CancellationToken never;
  RunContext ctx;
  ctx.threads = threads;
  ctx.cancel = &never;
  for (const JsonField& entry : lookups.Elements()) {
    Table table;
    table.lookup = PrepareLookup::FromJson(entry.json(), entry.Where());
    const std::string path = dir + "/" + table.lookup.file;
    data::TableSchema read;  // the lookup's columns with the prepared table's types
    auto add = [&](const std::string& name, std::vector<int>* fields) {
      const int index = schema.Find(name);
      AIOK_CHECK(index >= 0, ErrorKind::kInvalidInput,
                 "{}: the lookup's column '{}' is not a field of the input schema", path, name);
      fields->push_back(index);
      data::Field field = schema.fields[static_cast<size_t>(index)];
      field.role = data::FieldRole::kDense;  // read, never required
      read.fields.push_back(field);
    };
    for (const std::string& key : table.lookup.keys)
      add(key, &table.key_fields);
    for (const std::string& value : table.lookup.values) {
      add(value, &table.value_fields);
      table.zero_if_absent.push_back(std::find(table.lookup.zero_if_absent.begin(),
                                               table.lookup.zero_if_absent.end(),
                                               value) != table.lookup.zero_if_absent.end());
      fields_.insert(value);
    }
    table.rows.columns.resize(read.fields.size());
    for (size_t f = 0; f < read.fields.size(); ++f) {
      table.rows.columns[f].type = read.fields[f].type;
      if (read.fields[f].type.list)
        table.rows.columns[f].list_offsets.push_back(0);
    }
    data::ReadParquetTable(path, read, data::OnError::kFail, ctx, [&](data::TableBatch& batch) {
      for (size_t f = 0; f < read.fields.size(); ++f) {
        for (int64_t r = 0; r < batch.rows; ++r)
          AppendRow(batch.columns[f], static_cast<size_t>(r), &table.rows.columns[f]);
      }
      table.rows.rows += batch.rows;
    });
    for (int64_t r = 0; r < table.rows.rows; ++r) {
      std::string key;
      for (size_t k = 0; k < table.key_fields.size(); ++k)
        AppendKey(table.rows.columns[k], static_cast<size_t>(r), &key);
      table.index.emplace(std::move(key), r);
    }
    tables_.push_back(std::move(table));
  }
}

void PrepareLookups::Apply(data::TableBatch* batch) const {
  for (const Table& table : tables_)
    ApplyStep(table.lookup.step, batch);
}

void PrepareLookups::ApplyStep(int step, data::TableBatch* batch) const {
  for (const Table& table : tables_) {
    if (table.lookup.step != step)
      continue;
    std::vector<int64_t> found(static_cast<size_t>(batch->rows), -1);
    for (int64_t r = 0; r < batch->rows; ++r) {
      std::string key;
      bool present = true;
      for (int field : table.key_fields) {
        const data::ColumnValues& column = batch->columns[static_cast<size_t>(field)];
        present = present && column.valid[static_cast<size_t>(r)];
        if (present)
          AppendKey(column, static_cast<size_t>(r), &key);
      }
      if (!present)
        continue;
      const auto it = table.index.find(key);
      if (it != table.index.end())
        found[static_cast<size_t>(r)] = it->second;
    }
    const size_t keys = table.key_fields.size();
    for (size_t v = 0; v < table.value_fields.size(); ++v) {
      data::ColumnValues column;
      column.type = schema_.fields[static_cast<size_t>(table.value_fields[v])].type;
      if (column.type.list)
        column.list_offsets.push_back(0);
      for (int64_t r = 0; r < batch->rows; ++r) {
        const int64_t at = found[static_cast<size_t>(r)];
        if (at >= 0)
          AppendRow(table.rows.columns[keys + v], static_cast<size_t>(at), &column);
        else
          AppendAbsent(table.zero_if_absent[v], &column);
      }
      batch->columns[static_cast<size_t>(table.value_fields[v])] = std::move(column);
    }
  }
}

std::vector<PrepareLookup> PrepareLookups::lookups() const {
  std::vector<PrepareLookup> out;
  for (const Table& table : tables_)
    out.push_back(table.lookup);
  return out;
}

}  // namespace aiok::etl
