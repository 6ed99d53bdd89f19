#include "aiok/data/dataset_export.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/data/dataset.h"
#include "aiok/data/duckdb_client.h"

namespace aiok::data {
namespace {

int64_t ExportParquet(const std::string& dir, const std::string& split, const std::string& out,
                      int threads) {
  const DatasetSchema schema = ReadDatasetSchema(dir);
  const SplitReader reader(dir, schema, split);
  const size_t n_dense = schema.dense_columns.size();
  const size_t n_cat = schema.categorical_columns.size();
  DuckDb db(threads);
  std::string create = "CREATE TABLE rows_out (label UTINYINT";
  for (const auto& name : schema.dense_columns)
    create += ", \"" + name + "\" FLOAT";
  for (const auto& name : schema.categorical_columns)
    create += ", \"" + name + "\" INTEGER";
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
  for (const auto& shard : reader.shards()) {
    for (int64_t r = 0; r < shard.rows; ++r) {
      check(duckdb_append_uint8(appender, shard.labels[r]));
      for (size_t d = 0; d < n_dense; ++d) {
        check(duckdb_append_float(appender, shard.dense[r * n_dense + d]));
      }
      for (size_t c = 0; c < n_cat; ++c) {
        check(duckdb_append_int32(appender, shard.categorical[r * n_cat + c]));
      }
      check(duckdb_appender_end_row(appender));
    }
  }
  check(duckdb_appender_destroy(&appender));
  // DuckDB writes the file; it appears under its name only when complete.
  const std::string temp = out + ".tmp-" + std::to_string(getpid());
  db.Query("COPY rows_out TO " + SqlString(temp) + " (FORMAT PARQUET)", "export to " + out);
  std::error_code ec;
  std::filesystem::rename(temp, out, ec);
  if (ec) {
    std::filesystem::remove(temp);
    Throw(ErrorKind::kIo, "cannot rename '{}' to '{}': {}", temp, out, ec.message());
  }
  return reader.rows();
}

}  // namespace

void WriteSplitTsv(const std::string& dir, const std::string& split, int64_t limit, bool header,
                   const std::function<void(const std::string&)>& emit) {
  const DatasetSchema schema = ReadDatasetSchema(dir);
  const SplitReader reader(dir, schema, split);
  const size_t n_dense = schema.dense_columns.size();
  const size_t n_cat = schema.categorical_columns.size();
  std::string text;
  if (header) {
    text = "label";
    for (const auto& name : schema.dense_columns)
      text += "\t" + name;
    for (const auto& name : schema.categorical_columns)
      text += "\t" + name;
    text += "\n";
  }
  int64_t written = 0;
  for (const auto& shard : reader.shards()) {
    for (int64_t r = 0; r < shard.rows && (limit < 0 || written < limit); ++r, ++written) {
      fmt::format_to(std::back_inserter(text), "{}", shard.labels[r]);
      for (size_t d = 0; d < n_dense; ++d) {
        fmt::format_to(std::back_inserter(text), "\t{}", shard.dense[r * n_dense + d]);
      }
      for (size_t c = 0; c < n_cat; ++c) {
        fmt::format_to(std::back_inserter(text), "\t{}", shard.categorical[r * n_cat + c]);
      }
      text += '\n';
      if (text.size() > (1 << 20)) {
        emit(text);
        text.clear();
      }
    }
  }
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
