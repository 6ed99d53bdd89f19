#include "aiok/data/parquet_table_reader.h"

#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>
#include <optional>
#include <set>

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"
#include "aiok/core/suggest.h"
#include "aiok/data/criteo_parquet_reader.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/field_parsing.h"

namespace aiok::data {
namespace {

std::string_view TextOf(duckdb_vector vector, idx_t row) {
  auto* strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
  return {duckdb_string_t_data(&strings[row]), duckdb_string_t_length(strings[row])};
}

bool IsValid(duckdb_vector vector, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(vector);
  return validity == nullptr || duckdb_validity_row_is_valid(validity, row);
}

std::string Quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"')
      out += '"';
  }
  return out + "\"";
}

// Stores row `row` of `vector` (VARCHAR or VARCHAR[]) into `column`; returns a problem.
std::optional<std::string> StoreValue(duckdb_vector vector, idx_t row, const Field& field,
                                      ColumnValues* column) {
  const bool valid = IsValid(vector, row);
  if (!valid && (field.role == FieldRole::kLabel || field.role == FieldRole::kWeight)) {
    return fmt::format("{}: expected {}, found NULL", field.name,
                       field.role == FieldRole::kLabel ? "a label (it must not be missing)"
                                                       : "a weight");
  }
  column->valid.push_back(valid ? 1 : 0);
  auto bad = [&](const char* expected, std::string_view text) {
    return fmt::format("{}: expected {}, found {}", field.name, expected, Shown(text));
  };
  if (!field.type.list) {
    if (!valid) {
      // The same place-holder the text reader keeps for a missing value.
      ParseValue(field.type.value == ValueType::kString ? "" : "0", field.type, column);
      return std::nullopt;
    }
    const std::string_view text = TextOf(vector, row);
    if (const char* expected = ParseValue(text, field.type, column))
      return bad(expected, text);
    return std::nullopt;
  }
  if (valid) {
    const auto* entries = static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vector));
    duckdb_vector child = duckdb_list_vector_get_child(vector);
    for (idx_t i = entries[row].offset; i < entries[row].offset + entries[row].length; ++i) {
      if (!IsValid(child, i))
        return fmt::format("{}: expected list elements, found a NULL element", field.name);
      const std::string_view text = TextOf(child, i);
      if (const char* expected = ParseValue(text, field.type, column))
        return bad(expected, text);
    }
  }
  column->list_offsets.push_back(static_cast<int64_t>(column->values()));
  return std::nullopt;
}

}  // namespace

TextReadSummary ReadParquetTable(const std::string& path, const TableSchema& schema,
                                 OnError on_error, const RunContext& ctx,
                                 const std::function<void(TableBatch&)>& in_order,
                                 const std::function<void(TableBatch&, int64_t)>& concurrently) {
  {
    size_t size = 0;
    ::close(OpenRegularFile(path, &size));  // a clear kIo error for a missing file
  }
  DuckDb db(ctx.threads);
  const std::string table = "read_parquet(" + SqlString(path) + ")";
  std::set<std::string> columns;
  {
    DuckResult described = db.Query("DESCRIBE SELECT * FROM " + table, "reading " + path);
    for (DuckChunk chunk(described.NextChunk()); chunk; chunk = DuckChunk(described.NextChunk())) {
      for (size_t r = 0; r < chunk.rows(); ++r)
        columns.emplace(TextOf(chunk.column(0), r));
    }
  }
  std::vector<size_t> read;  // schema fields read, in select order
  std::string sql = "SELECT ";
  for (size_t f = 0; f < schema.fields.size(); ++f) {
    const Field& field = schema.fields[f];
    if (field.role == FieldRole::kIgnored)
      continue;
    if (!columns.count(field.name)) {
      const std::vector<std::string> known(columns.begin(), columns.end());
      Throw(ErrorKind::kInvalidInput, "{}: no column '{}'{} (columns: {})", path, field.name,
            DidYouMean(field.name, known), fmt::join(known, ", "));
    }
    sql += fmt::format("{}CAST({} AS {})", read.empty() ? "" : ", ", Quoted(field.name),
                       field.type.list ? "VARCHAR[]" : "VARCHAR");
    read.push_back(f);
  }
  AIOK_CHECK(!read.empty(), ErrorKind::kConfig, "{}: the schema reads no field of the file", path);
  DuckResult result = db.Query(sql + " FROM " + table, "reading " + path);

  TextReadSummary summary;
  summary.bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  auto fresh_batch = [&] {
    TableBatch batch;
    batch.columns.resize(schema.fields.size());
    for (size_t f = 0; f < schema.fields.size(); ++f) {
      batch.columns[f].type = schema.fields[f].type;
      if (schema.fields[f].type.list)
        batch.columns[f].list_offsets.push_back(0);
    }
    return batch;
  };
  TableBatch batch = fresh_batch();
  int64_t index = 0;
  auto flush = [&] {
    if (batch.records == 0)
      return;
    batch.first_record = summary.records + 1;
    batch.first_row = summary.rows;
    for (RejectedRecord& reject : batch.rejects) {
      reject.record += batch.first_record;
      reject.line = reject.record;
    }
    summary.records += batch.records;
    summary.rows += batch.rows;
    summary.rejected += static_cast<int64_t>(batch.rejects.size());
    in_order(batch);
    if (concurrently)
      concurrently(batch, index);
    ++index;
    batch = fresh_batch();
  };
  for (DuckChunk chunk(result.NextChunk()); chunk; chunk = DuckChunk(result.NextChunk())) {
    ctx.cancel->ThrowIfCancelled();
    for (size_t r = 0; r < chunk.rows(); ++r) {
      std::optional<std::string> problem;
      size_t stored = 0;
      for (; stored < read.size() && !problem; ++stored) {
        const size_t f = read[stored];
        problem = StoreValue(chunk.column(stored), r, schema.fields[f], &batch.columns[f]);
      }
      if (problem) {
        // Undo what the row stored (each column back to the accepted rows), then reject or
        // fail.
        for (size_t k = 0; k < stored; ++k)
          TruncateToRows(&batch.columns[read[k]], static_cast<size_t>(batch.rows));
        if (on_error == OnError::kFail) {
          Throw(ErrorKind::kInvalidInput, "{}: row {}: {}", path,
                summary.records + batch.records + 1, *problem);
        }
        batch.rejects.push_back(RejectedRecord{batch.records, 0, *problem});
      } else {
        ++batch.rows;
      }
      ++batch.records;
      if (batch.records == kParquetTableBatchRows)
        flush();
    }
  }
  flush();
  return summary;
}

TextReadSummary ReadTable(const std::string& path, const TableSchema& schema,
                          const TextReadOptions& options, const RunContext& ctx,
                          const std::function<void(TableBatch&)>& in_order,
                          const std::function<void(TableBatch&, int64_t)>& concurrently) {
  if (IsParquetFile(path))
    return ReadParquetTable(path, schema, options.on_error, ctx, in_order, concurrently);
  return ReadTextTable(path, schema, options, ctx, in_order, concurrently);
}

}  // namespace aiok::data
