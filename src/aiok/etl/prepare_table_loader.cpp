#include "aiok/etl/prepare_table_loader.h"

#include <fmt/format.h>

#include <algorithm>

#include "aiok/core/error.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::etl {
namespace {

duckdb_type ScalarType(data::ValueType type) {
  switch (type) {
    case data::ValueType::kInt64:
      return DUCKDB_TYPE_BIGINT;
    case data::ValueType::kUInt64:
      return DUCKDB_TYPE_UBIGINT;
    case data::ValueType::kFloat64:
      return DUCKDB_TYPE_DOUBLE;
    case data::ValueType::kString:
      return DUCKDB_TYPE_VARCHAR;
    case data::ValueType::kTimestamp:
      return DUCKDB_TYPE_TIMESTAMP;
  }
  return DUCKDB_TYPE_VARCHAR;
}

// Value i of `column` into slot `slot` of the flat vector `vector`.
void PutValue(const data::ColumnValues& column, size_t i, duckdb_vector vector, idx_t slot) {
  void* data = duckdb_vector_get_data(vector);
  switch (column.type.value) {
    case data::ValueType::kInt64:
      static_cast<int64_t*>(data)[slot] = column.ints[i];
      break;
    case data::ValueType::kTimestamp:  // seconds; DuckDB's TIMESTAMP counts microseconds
      static_cast<int64_t*>(data)[slot] = column.ints[i] * 1000000;
      break;
    case data::ValueType::kUInt64:
      static_cast<uint64_t*>(data)[slot] = column.uints[i];
      break;
    case data::ValueType::kFloat64:
      static_cast<double*>(data)[slot] = column.reals[i];
      break;
    case data::ValueType::kString: {
      const std::string_view text = column.string(i);
      duckdb_vector_assign_string_element_len(vector, slot, text.data(), text.size());
      break;
    }
  }
}

}  // namespace

// Owns a DuckDB logical type.
struct DuckLogicalType {
  explicit DuckLogicalType(const data::FieldType& type) {
    duckdb_logical_type scalar = duckdb_create_logical_type(ScalarType(type.value));
    if (!type.list) {
      value = scalar;
      return;
    }
    value = duckdb_create_list_type(scalar);
    duckdb_destroy_logical_type(&scalar);
  }
  explicit DuckLogicalType(duckdb_type type) : value(duckdb_create_logical_type(type)) {}
  ~DuckLogicalType() {
    if (value)
      duckdb_destroy_logical_type(&value);
  }
  DuckLogicalType(const DuckLogicalType&) = delete;
  DuckLogicalType& operator=(const DuckLogicalType&) = delete;
  duckdb_logical_type value;
};

ChunkAppender::ChunkAppender(data::DuckDb& db, const std::string& table,
                             const data::TableSchema& schema, std::vector<size_t> fields)
    : table_(table), fields_(std::move(fields)) {
  if (fields_.empty()) {
    for (size_t f = 0; f < schema.fields.size(); ++f) {
      if (schema.fields[f].role != data::FieldRole::kIgnored)
        fields_.push_back(f);
    }
  }
  types_.push_back(std::make_unique<DuckLogicalType>(DUCKDB_TYPE_BIGINT));  // __row
  types_.push_back(std::make_unique<DuckLogicalType>(DUCKDB_TYPE_BIGINT));  // __record
  for (size_t f : fields_)
    types_.push_back(std::make_unique<DuckLogicalType>(schema.fields[f].type));
  std::vector<duckdb_logical_type> raw;
  for (const auto& type : types_)
    raw.push_back(type->value);
  chunk_ = duckdb_create_data_chunk(raw.data(), raw.size());
  AIOK_CHECK(
      duckdb_appender_create(db.connection(), nullptr, table.c_str(), &appender_) == DuckDBSuccess,
      ErrorKind::kInternal, "cannot append to the DuckDB table {}", table);
}

ChunkAppender::~ChunkAppender() {
  duckdb_destroy_data_chunk(&chunk_);
  duckdb_appender_destroy(&appender_);
}

void ChunkAppender::Append(const data::TableBatch& batch, int64_t first_row) {
  // A batch that does not count records (rows assembled for serving): its rows in order.
  std::vector<int64_t> records;
  if (batch.records == 0 && batch.rejects.empty()) {
    for (int64_t r = 0; r < batch.rows; ++r)
      records.push_back(first_row + r);
  } else {
    records = batch.RowRecords();
  }
  const auto rows = static_cast<size_t>(batch.rows);
  const idx_t capacity = duckdb_vector_size();
  for (size_t begin = 0; begin < rows; begin += capacity) {
    const size_t n = std::min<size_t>(capacity, rows - begin);
    duckdb_data_chunk_reset(chunk_);
    auto* row =
        static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk_, 0)));
    auto* record =
        static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk_, 1)));
    for (size_t r = 0; r < n; ++r) {
      row[r] = first_row + static_cast<int64_t>(begin + r);
      record[r] = records[begin + r] + 1;
    }
    for (size_t c = 0; c < fields_.size(); ++c)
      Fill(batch.columns[fields_[c]], begin, n, duckdb_data_chunk_get_vector(chunk_, c + 2));
    duckdb_data_chunk_set_size(chunk_, n);
    if (duckdb_append_data_chunk(appender_, chunk_) != DuckDBSuccess)
      Throw(ErrorKind::kInternal, "appending to {}: {}", table_, duckdb_appender_error(appender_));
  }
}

void ChunkAppender::Close() {
  if (duckdb_appender_close(appender_) != DuckDBSuccess)
    Throw(ErrorKind::kInternal, "appending to {}: {}", table_, duckdb_appender_error(appender_));
}

void ChunkAppender::Fill(const data::ColumnValues& column, size_t begin, size_t n,
                         duckdb_vector out) {
  duckdb_vector_ensure_validity_writable(out);
  uint64_t* validity = duckdb_vector_get_validity(out);
  for (size_t r = 0; r < n; ++r) {
    if (!column.valid[begin + r])
      duckdb_validity_set_row_invalid(validity, r);
  }
  if (!column.type.list) {
    for (size_t r = 0; r < n; ++r)
      PutValue(column, begin + r, out, r);
    return;
  }
  const int64_t first = column.list_offsets[begin];
  const int64_t total = column.list_offsets[begin + n] - first;
  duckdb_list_vector_reserve(out, static_cast<idx_t>(total));
  duckdb_list_vector_set_size(out, static_cast<idx_t>(total));
  duckdb_vector child = duckdb_list_vector_get_child(out);
  auto* entries = static_cast<duckdb_list_entry*>(duckdb_vector_get_data(out));
  for (size_t r = 0; r < n; ++r) {
    const int64_t from = column.list_offsets[begin + r];
    const int64_t to = column.list_offsets[begin + r + 1];
    entries[r].offset = static_cast<uint64_t>(from - first);
    entries[r].length = static_cast<uint64_t>(to - from);
    for (int64_t i = from; i < to; ++i)
      PutValue(column, static_cast<size_t>(i), child, static_cast<idx_t>(i - first));
  }
}

duckdb_logical_type NewDuckType(const data::FieldType& type) {
  DuckLogicalType owned(type);
  duckdb_logical_type out = owned.value;
  owned.value = nullptr;  // handed over
  return out;
}

std::string DuckTypeOf(const data::FieldType& type) {
  const char* scalar = "VARCHAR";
  switch (type.value) {
    case data::ValueType::kInt64:
      scalar = "BIGINT";
      break;
    case data::ValueType::kUInt64:
      scalar = "UBIGINT";
      break;
    case data::ValueType::kFloat64:
      scalar = "DOUBLE";
      break;
    case data::ValueType::kString:
      scalar = "VARCHAR";
      break;
    case data::ValueType::kTimestamp:
      scalar = "TIMESTAMP";
      break;
  }
  return type.list ? std::string(scalar) + "[]" : std::string(scalar);
}

LoadedTable LoadTable(data::DuckDb& db, const std::string& path, const data::TableSchema& schema,
                      data::OnError on_error, const RunContext& ctx, const std::string& table) {
  std::string columns = "__row BIGINT, __record BIGINT";
  for (const data::Field& field : schema.fields) {
    if (field.role != data::FieldRole::kIgnored)
      columns += fmt::format(", {} {}", data::SqlName(field.name), DuckTypeOf(field.type));
  }
  db.Query(fmt::format("CREATE TABLE {} ({})", table, columns), "creating " + table);
  LoadedTable loaded;
  ChunkAppender appender(db, table, schema);
  data::TextReadOptions options;
  options.on_error = on_error;
  const data::TextReadSummary summary =
      data::ReadTable(path, schema, options, ctx, [&](data::TableBatch& batch) {
        appender.Append(batch, loaded.rows);
        loaded.rows += batch.rows;
        loaded.one_line_records = loaded.one_line_records && batch.lines == batch.records;
        loaded.rejects.insert(loaded.rejects.end(), batch.rejects.begin(), batch.rejects.end());
      });
  appender.Close();
  loaded.records = summary.records;
  AIOK_ASSERT(loaded.rows == summary.rows);
  return loaded;
}

}  // namespace aiok::etl
