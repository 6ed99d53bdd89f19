#include "aiok/data/parquet_table_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"
#include "aiok/core/suggest.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/value_parsing.h"

namespace aiok::data {
namespace {

// How a field's column is read from DuckDB.
enum class Source {
  kText,   // as VARCHAR (or VARCHAR[]) and parsed with the text reader's value parsers
  kWhole,  // as DOUBLE, each value a whole number or NaN: how pandas writes an integer
           // column that has gaps
};

// One schema field as read from the file.
struct FieldSource {
  size_t field = 0;       // index in the schema
  Source source = Source::kText;
  FieldType parse_type;   // the type its text is parsed as
};

bool IsRealType(const std::string& type) {
  return type == "FLOAT" || type == "DOUBLE" || type.rfind("DECIMAL", 0) == 0;
}

// How to read `field` from a column of DuckDB type `type`, and the SQL that selects it.
FieldSource SourceFor(size_t f, const Field& field, const std::string& type, std::string* sql) {
  FieldSource source{f, Source::kText, field.type};
  const bool whole_field = field.type.value == ValueType::kInt64 ||
                           field.type.value == ValueType::kUInt64;
  // A list column's type is its element type followed by "[]".
  const std::string element =
      field.type.list && type.size() > 2 && type.compare(type.size() - 2, 2, "[]") == 0
          ? type.substr(0, type.size() - 2)
          : type;
  // A hex id stored as an integer (pandas reads "68fd1e64" as text, but a file converted for
  // a model often holds the id's value): its decimal digits are the value, not hex digits.
  if (field.type.value == ValueType::kUInt64 && field.type.hex && IsDuckIntegerType(element))
    source.parse_type.hex = false;
  if (!field.type.list && whole_field && IsRealType(type)) {
    source.source = Source::kWhole;
    *sql = fmt::format("CAST({} AS DOUBLE)", SqlName(field.name));
  } else if (!field.type.list && whole_field && type == "BOOLEAN") {
    *sql = fmt::format("CAST(CAST({} AS TINYINT) AS VARCHAR)", SqlName(field.name));
  } else {
    *sql = fmt::format("CAST({} AS {})", SqlName(field.name),
                       field.type.list ? "VARCHAR[]" : "VARCHAR");
  }
  return source;
}

// Stores row `row` of `vector` (as `source` says) into `column`; returns a problem.
std::optional<std::string> StoreValue(duckdb_vector vector, idx_t row, const Field& field,
                                      const FieldSource& source, ColumnValues* column) {
  bool valid = DuckValidAt(vector, row);
  double whole = 0;
  if (valid && source.source == Source::kWhole) {
    whole = static_cast<const double*>(duckdb_vector_get_data(vector))[row];
    valid = !std::isnan(whole);  // pandas' missing value
  }
  if (!valid && (field.role == FieldRole::kLabel || field.role == FieldRole::kWeight)) {
    const bool nan = source.source == Source::kWhole && DuckValidAt(vector, row);
    return fmt::format("{}: expected {}, found {}", field.name,
                       field.role == FieldRole::kLabel ? "a label (it must not be missing)"
                                                       : "a weight",
                       nan ? "NaN" : "NULL");
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
    if (source.source == Source::kWhole) {
      // 2^63 and 2^64 are exact doubles; every whole double below them converts exactly.
      constexpr double kTwo63 = 9223372036854775808.0;
      const bool is_signed = field.type.value == ValueType::kInt64;
      // (A bad row's values are undone by the caller.)
      if (std::isinf(whole) || whole != std::trunc(whole)) {
        return bad(is_signed ? "a whole number" : "a non-negative whole number",
                   fmt::format("{}", whole));
      }
      if (is_signed ? (whole < -kTwo63 || whole >= kTwo63) : (whole < 0 || whole >= 2 * kTwo63)) {
        return bad(is_signed || whole >= 0 ? "a value in range" : "a non-negative whole number",
                   fmt::format("{}", whole));
      }
      if (is_signed) {
        column->ints.push_back(static_cast<int64_t>(whole));
      } else {
        column->uints.push_back(static_cast<uint64_t>(whole));
      }
      return std::nullopt;
    }
    const std::string_view text = DuckTextAt(vector, row);
    if (const char* expected = ParseValue(text, source.parse_type, column))
      return bad(expected, text);
    return std::nullopt;
  }
  if (valid) {
    const auto* entries = static_cast<const duckdb_list_entry*>(duckdb_vector_get_data(vector));
    duckdb_vector child = duckdb_list_vector_get_child(vector);
    for (idx_t i = entries[row].offset; i < entries[row].offset + entries[row].length; ++i) {
      if (!DuckValidAt(child, i))
        return fmt::format("{}: expected list elements, found a NULL element", field.name);
      const std::string_view text = DuckTextAt(child, i);
      if (const char* expected = ParseValue(text, source.parse_type, column))
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
  std::map<std::string, std::string> types;  // the file's columns and their DuckDB types
  {
    DuckResult described = db.Query("DESCRIBE SELECT * FROM " + table, "reading " + path);
    for (DuckChunk chunk(described.NextChunk()); chunk; chunk = DuckChunk(described.NextChunk())) {
      for (size_t r = 0; r < chunk.rows(); ++r)
        types.emplace(DuckTextAt(chunk.column(0), r), DuckTextAt(chunk.column(1), r));
    }
  }
  std::vector<FieldSource> read;  // schema fields read, in select order
  std::vector<std::string> missing;
  std::string sql = "SELECT ";
  for (size_t f = 0; f < schema.fields.size(); ++f) {
    const Field& field = schema.fields[f];
    if (field.role == FieldRole::kIgnored)
      continue;
    const auto type = types.find(field.name);
    if (type == types.end()) {
      missing.push_back(field.name);
      continue;
    }
    std::string select;
    read.push_back(SourceFor(f, field, type->second, &select));
    sql += (read.size() == 1 ? "" : ", ") + select;
  }
  if (!missing.empty()) {
    // Every missing column at once: a file written for another schema lacks several.
    std::vector<std::string> known;
    for (const auto& [name, type] : types)
      known.push_back(name);
    Throw(ErrorKind::kInvalidInput, "{}: missing column(s) {}{} (the file's columns: {})", path,
          fmt::join(missing, ", "), missing.size() == 1 ? DidYouMean(missing[0], known) : "",
          fmt::join(known, ", "));
  }
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
        const size_t f = read[stored].field;
        problem = StoreValue(chunk.column(stored), r, schema.fields[f], read[stored],
                             &batch.columns[f]);
      }
      if (problem) {
        // Undo what the row stored (each column back to the accepted rows), then reject or
        // fail.
        for (size_t k = 0; k < stored; ++k)
          TruncateToRows(&batch.columns[read[k].field], static_cast<size_t>(batch.rows));
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

bool IsParquetFile(const std::string& path) {
  // Only a regular file is opened (a FIFO would block an open() without O_NONBLOCK); for
  // anything else the reader that follows says what is wrong.
  struct stat info {};
  char magic[4] = {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
      static_cast<size_t>(info.st_size) < sizeof magic) {
    return false;
  }
  const ReadOnlyFile file(path);
  file.Read(0, sizeof magic, magic);
  return std::string(magic, 4) == "PAR1";
}

int64_t CountParquetRows(const std::string& path, int threads) {
  CheckRegularFile(path);
  DuckDb db(threads);
  DuckResult result = db.Query("SELECT count(*) FROM read_parquet(" + SqlString(path) + ")", path);
  DuckChunk chunk(result.NextChunk());
  AIOK_ASSERT(chunk && chunk.rows() == 1);
  return static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)))[0];
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
