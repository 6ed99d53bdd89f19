#include "aiok/data/criteo_parquet_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "aiok/core/error.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/value_parsing.h"
#include "aiok/data/field_parsing.h"
#include "aiok/data/value_parsing.h"

namespace aiok::data {
namespace {

// How a column's values are read from DuckDB.
enum class Source { kInteger, kReal, kText };

Source SourceOf(const std::string& type) {
  static const char* kIntegers[] = {"TINYINT",   "SMALLINT", "INTEGER", "BIGINT",  "UTINYINT",
                                    "USMALLINT", "UINTEGER", "UBIGINT", "BOOLEAN", "HUGEINT"};
  for (const char* name : kIntegers) {
    if (type == name)
      return Source::kInteger;
  }
  if (type == "FLOAT" || type == "DOUBLE" || type.rfind("DECIMAL", 0) == 0)
    return Source::kReal;
  return Source::kText;
}

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

// The SQL expression that reads column `name` as its Source.
std::string Select(const std::string& name, Source source) {
  switch (source) {
    case Source::kInteger:
      return Quoted(name) + "::BIGINT";
    case Source::kReal:
      return Quoted(name) + "::DOUBLE";
    case Source::kText:
      return Quoted(name) + "::VARCHAR";
  }
  return Quoted(name);
}

std::string_view TextAt(duckdb_vector vector, size_t row) {
  auto* strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
  return {duckdb_string_t_data(&strings[row]), duckdb_string_t_length(strings[row])};
}

void CheckReadable(const std::string& path) {
  AIOK_CHECK(std::filesystem::exists(path), ErrorKind::kIo, "cannot open '{}': no such file", path);
}

}  // namespace

bool IsParquetFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::string(magic, 4) == "PAR1";
}

int64_t CountParquetRows(const std::string& path, int threads) {
  CheckReadable(path);
  DuckDb db(threads);
  DuckResult result = db.Query("SELECT count(*) FROM read_parquet(" + SqlString(path) + ")", path);
  DuckChunk chunk(result.NextChunk());
  AIOK_ASSERT(chunk && chunk.rows() == 1);
  return static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)))[0];
}

CriteoReadSummary ReadCriteoParquet(
    const std::string& path, const CriteoReaderOptions& options, const RunContext& ctx,
    const std::function<void(CriteoBatch&)>& in_order,
    const std::function<void(CriteoBatch&, int64_t)>& concurrently) {
  CheckReadable(path);
  DuckDb db(ctx.threads);
  const std::string table = "read_parquet(" + SqlString(path) + ")";
  // The file's columns and their types.
  std::map<std::string, std::string> types;
  {
    DuckResult described = db.Query("DESCRIBE SELECT * FROM " + table, path);
    for (DuckChunk chunk(described.NextChunk()); chunk; chunk = DuckChunk(described.NextChunk())) {
      for (size_t r = 0; r < chunk.rows(); ++r) {
        types[std::string(TextAt(chunk.column(0), r))] = std::string(TextAt(chunk.column(1), r));
      }
    }
  }
  CriteoReadSummary summary;
  summary.bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  summary.has_label = options.label == LabelField::kPresent ||
                      (options.label == LabelField::kDetect && types.count("label"));
  std::vector<std::string> names;
  if (summary.has_label)
    names.push_back("label");
  for (int d = 0; d < kCriteoDense; ++d)
    names.push_back(CriteoDenseName(d));
  for (int c = 0; c < kCriteoCategorical; ++c)
    names.push_back(CriteoCategoricalName(c));
  std::vector<std::string> missing;
  for (const auto& name : names) {
    if (!types.count(name))
      missing.push_back(name);
  }
  AIOK_CHECK(missing.empty(), ErrorKind::kInvalidInput,
             "{}: missing column(s) {}; expected {}label, I1..I13, C1..C26", path,
             fmt::join(missing, ", "), summary.has_label ? "" : "(optional) ");

  std::vector<Source> sources;
  std::string sql = "SELECT ";
  for (size_t i = 0; i < names.size(); ++i) {
    sources.push_back(SourceOf(types[names[i]]));
    sql += (i ? ", " : "") + Select(names[i], sources.back());
  }
  DuckResult result = db.Query(sql + " FROM " + table, path);

  const int first_dense = summary.has_label ? 1 : 0;
  const int first_category = first_dense + kCriteoDense;
  CriteoBatch batch;
  int64_t batch_index = 0;
  auto flush = [&] {
    if (batch.lines == 0)
      return;
    NumberBatch(batch, &summary);
    in_order(batch);
    if (concurrently)
      concurrently(batch, batch_index);
    ++batch_index;
    batch = CriteoBatch();
  };

  for (DuckChunk chunk(result.NextChunk()); chunk; chunk = DuckChunk(result.NextChunk())) {
    ctx.cancel->ThrowIfCancelled();
    const size_t rows = chunk.rows();
    std::vector<duckdb_vector> vectors(names.size());
    std::vector<uint64_t*> validity(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      vectors[i] = chunk.column(i);
      validity[i] = duckdb_vector_get_validity(vectors[i]);
    }
    auto is_null = [&](size_t column, size_t row) {
      return validity[column] != nullptr && !duckdb_validity_row_is_valid(validity[column], row);
    };
    for (size_t r = 0; r < rows; ++r) {
      std::optional<std::string> problem;
      uint8_t label = 0;
      std::array<int64_t, kCriteoDense> dense{};
      std::array<int64_t, kCriteoCategorical> category{};
      auto bad = [&](size_t column, const char* expected, const std::string& found) {
        if (!problem)
          problem = fmt::format("{}: expected {}, found {}", names[column], expected, found);
      };
      if (summary.has_label) {
        const int64_t value =
            is_null(0, r) ? -1 : static_cast<const int64_t*>(duckdb_vector_get_data(vectors[0]))[r];
        if (value != 0 && value != 1) {
          bad(0, "label 0 or 1", is_null(0, r) ? "NULL" : std::to_string(value));
        }
        label = static_cast<uint8_t>(value == 1);
      }
      for (int d = 0; d < kCriteoDense; ++d) {
        const size_t column = static_cast<size_t>(first_dense + d);
        int64_t& out = dense[d];
        out = kMissingDense;
        if (is_null(column, r))
          continue;
        switch (sources[column]) {
          case Source::kInteger:
            out = static_cast<const int64_t*>(duckdb_vector_get_data(vectors[column]))[r];
            break;
          case Source::kReal: {
            const double v = static_cast<const double*>(duckdb_vector_get_data(vectors[column]))[r];
            if (std::isnan(v))
              break;
            if (v != std::floor(v) || std::fabs(v) > 9e17) {
              bad(column, "a whole number", fmt::format("{}", v));
            } else {
              out = static_cast<int64_t>(v);
            }
            break;
          }
          case Source::kText: {
            const std::string_view text = TextAt(vectors[column], r);
            if (!text.empty() && ParseInt64(text, &out) != ParseStatus::kOk) {
              bad(column, "an integer or an empty field", Shown(text));
            }
            if (text.empty())
              out = kMissingDense;
            break;
          }
        }
      }
      for (int c = 0; c < kCriteoCategorical; ++c) {
        const size_t column = static_cast<size_t>(first_category + c);
        int64_t& out = category[c];
        out = kMissingCategory;
        if (is_null(column, r))
          continue;
        if (sources[column] == Source::kText) {
          const std::string_view text = TextAt(vectors[column], r);
          if (!text.empty() && !ParseHex32(text, &out)) {
            bad(column, "up to 8 hex digits or an empty field", Shown(text));
          }
          if (text.empty())
            out = kMissingCategory;
        } else if (sources[column] == Source::kInteger) {
          out = static_cast<const int64_t*>(duckdb_vector_get_data(vectors[column]))[r];
          if (out < 0)
            bad(column, "a non-negative category", std::to_string(out));
        } else {
          bad(column, "hex strings or integers", types[names[column]]);
        }
      }
      const int64_t row_in_batch = batch.lines++;
      if (problem) {
        if (options.on_error == OnError::kFail) {
          Throw(ErrorKind::kInvalidInput, "{}: row {}: {}", path, summary.lines + row_in_batch + 1,
                *problem);
        }
        batch.rejects.push_back(RejectedLine{row_in_batch, *problem});
        continue;
      }
      if (summary.has_label)
        batch.label.push_back(label);
      for (int d = 0; d < kCriteoDense; ++d)
        batch.dense[d].push_back(dense[d]);
      for (int c = 0; c < kCriteoCategorical; ++c)
        batch.category[c].push_back(category[c]);
      ++batch.rows;
      if (batch.lines == kParquetBatchRows)
        flush();
    }
  }
  flush();
  AIOK_CHECK(summary.lines > 0, ErrorKind::kInvalidInput, "{}: the file has no rows", path);
  return summary;
}

}  // namespace aiok::data
