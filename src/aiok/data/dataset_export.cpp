#include "aiok/data/dataset_export.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/data/dataset.h"
#include "aiok/data/duckdb_client.h"

namespace aiok::data {
namespace {

// Calls visit(batch, row) for each row of the split in order, up to `limit` rows (-1: all).
template <typename Visit>
void ForEachRow(const SplitReader& reader, int64_t limit, Visit&& visit) {
  int64_t visited = 0;
  const std::vector<int64_t> shard_rows = reader.shard_rows();
  for (size_t s = 0; s < shard_rows.size(); ++s) {
    const FeatureBatch batch = reader.View(static_cast<int64_t>(s), 0, shard_rows[s]);
    for (int64_t r = 0; r < batch.rows; ++r, ++visited) {
      if (limit >= 0 && visited >= limit)
        return;
      visit(batch, r);
    }
  }
}

// A list field's ids joined by '|'.
std::string JoinIds(const JaggedIds& ids, int64_t row) {
  std::string text;
  for (int64_t i = ids.offsets[row]; i < ids.offsets[row + 1]; ++i) {
    if (i > ids.offsets[row])
      text += '|';
    text += std::to_string(ids.values[i]);
  }
  return text;
}

int64_t ExportParquet(const std::string& dir, const std::string& split, const std::string& out,
                      int threads) {
  const DatasetSchema schema = ReadDatasetSchema(dir);
  const SplitReader reader(dir, schema, split);
  const FeatureLayout& layout = schema.features;
  const auto n_dense = static_cast<size_t>(layout.dense_width());
  const auto n_cat = static_cast<size_t>(layout.categorical_width());
  const bool binary = layout.task == Task::kBinary;
  DuckDb db(threads);
  // Lists are staged as '|'-joined text and turned into INTEGER[] by the COPY's SELECT.
  std::string create = std::string("CREATE TABLE rows_out (label ") + (binary ? "UTINYINT" : "FLOAT");
  std::string select = "SELECT label";
  if (layout.has_weight) {
    create += ", weight FLOAT";
    select += ", weight";
  }
  for (const auto& name : layout.dense) {
    create += ", \"" + name + "\" FLOAT";
    select += ", \"" + name + "\"";
  }
  for (const auto& field : layout.categorical) {
    create += ", \"" + field.name + "\" INTEGER";
    select += ", \"" + field.name + "\"";
  }
  for (const auto& field : layout.jagged) {
    create += ", \"" + field.name + "\" VARCHAR";
    select += ", CASE WHEN \"" + field.name + "\" = '' THEN []::INTEGER[] ELSE string_split(\"" +
              field.name + "\", '|')::INTEGER[] END AS \"" + field.name + "\"";
  }
  db.Query(create + ")", "export");
  duckdb_appender appender = nullptr;
  AIOK_CHECK(
      duckdb_appender_create(db.connection(), nullptr, "rows_out", &appender) == DuckDBSuccess,
      ErrorKind::kInternal, "cannot create a DuckDB appender");
  auto check = [&](duckdb_state state) {
    if (state == DuckDBSuccess)
      return;
    const std::string message = duckdb_appender_error(appender);
    duckdb_appender_destroy(&appender);
    Throw(ErrorKind::kInternal, "export to '{}': {}", out, message);
  };
  ForEachRow(reader, -1, [&](const FeatureBatch& batch, int64_t r) {
    if (binary) {
      check(duckdb_append_uint8(appender, static_cast<uint8_t>(batch.labels[r])));
    } else {
      check(duckdb_append_float(appender, batch.labels[r]));
    }
    if (layout.has_weight)
      check(duckdb_append_float(appender, batch.weights[r]));
    for (size_t d = 0; d < n_dense; ++d)
      check(duckdb_append_float(appender, batch.dense[r * n_dense + d]));
    for (size_t c = 0; c < n_cat; ++c)
      check(duckdb_append_int32(appender, batch.categorical[r * n_cat + c]));
    for (const JaggedIds& ids : batch.jagged)
      check(duckdb_append_varchar(appender, JoinIds(ids, r).c_str()));
    check(duckdb_appender_end_row(appender));
  });
  check(duckdb_appender_destroy(&appender));
  // DuckDB writes the file; it appears under its name only when complete.
  RemoveStaleTemporaries(out);
  const std::string temp = TemporaryPath(out);
  db.Query("COPY (" + select + " FROM rows_out) TO " + SqlString(temp) + " (FORMAT PARQUET)",
           "export to " + out);
  PublishFile(temp, out);
  return reader.rows();
}

}  // namespace

void WriteSplitTsv(const std::string& dir, const std::string& split, int64_t limit, bool header,
                   const std::function<void(const std::string&)>& emit) {
  const DatasetSchema schema = ReadDatasetSchema(dir);
  const SplitReader reader(dir, schema, split);
  const FeatureLayout& layout = schema.features;
  const auto n_dense = static_cast<size_t>(layout.dense_width());
  const auto n_cat = static_cast<size_t>(layout.categorical_width());
  std::string text;
  if (header) {
    text = "label";
    if (layout.has_weight)
      text += "\tweight";
    for (const auto& name : layout.dense)
      text += "\t" + name;
    for (const auto& field : layout.categorical)
      text += "\t" + field.name;
    for (const auto& field : layout.jagged)
      text += "\t" + field.name;
    text += "\n";
  }
  ForEachRow(reader, limit, [&](const FeatureBatch& batch, int64_t r) {
    fmt::format_to(std::back_inserter(text), "{}", batch.labels[r]);
    if (layout.has_weight)
      fmt::format_to(std::back_inserter(text), "\t{}", batch.weights[r]);
    for (size_t d = 0; d < n_dense; ++d)
      fmt::format_to(std::back_inserter(text), "\t{}", batch.dense[r * n_dense + d]);
    for (size_t c = 0; c < n_cat; ++c)
      fmt::format_to(std::back_inserter(text), "\t{}", batch.categorical[r * n_cat + c]);
    for (const JaggedIds& ids : batch.jagged)
      text += "\t" + JoinIds(ids, r);
    text += '\n';
    if (text.size() > (1 << 20)) {
      emit(text);
      text.clear();
    }
  });
  emit(text);
}

int64_t ExportSplit(const std::string& dir, const std::string& split, const std::string& format,
                    const std::string& out, bool header, int threads) {
  if (format == "parquet")
    return ExportParquet(dir, split, out, threads);
  AIOK_CHECK(format == "tsv", ErrorKind::kUsage, "unknown export format '{}' (valid: tsv, parquet)",
             format);
  AtomicFileWriter writer(out);
  WriteSplitTsv(dir, split, -1, header, [&](const std::string& text) { writer.Write(text); });
  writer.Commit();
  return ReadDatasetSchema(dir).split(split).rows;
}

}  // namespace aiok::data
