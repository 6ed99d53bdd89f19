#include "aiok/data/tabular_generator.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/splits.h"
#include "aiok/data/tabular_click_model.h"
#include "aiok/data/text_format.h"

namespace aiok::data {
namespace {

constexpr int kFormatVersion = 1;
constexpr const char* kCsvName = "mixed.csv";
constexpr const char* kParquetName = "mixed.parquet";
constexpr const char* kTimestampFormat = "%Y-%m-%d %H:%M:%S";

// RFC 4180: a field holding a separator, a quote or a line break goes in quotes, with its
// quotes doubled.
void AppendCsvField(std::string& out, std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"')
      out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// `value` / 10^decimals with exactly `decimals` digits after the point.
void AppendFixed(std::string& out, int64_t value, int decimals) {
  if (value < 0)
    out.push_back('-');
  const uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : value;
  uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i)
    scale *= 10;
  AppendInt(out, static_cast<int64_t>(magnitude / scale));
  out.push_back('.');
  const auto fraction = fmt::format_int(magnitude % scale + scale);  // leading 1 keeps zeros
  out.append(fraction.data() + 1, fraction.size() - 1);
}

void AppendTwoDigits(std::string& out, int64_t value) {
  out.push_back(static_cast<char>('0' + value / 10));
  out.push_back(static_cast<char>('0' + value % 10));
}

// "YYYY-MM-DD HH:MM:SS" of seconds since 1970-01-01 (>= 0). Days to a civil date by Howard
// Hinnant's civil_from_days.
void AppendTimestamp(std::string& out, int64_t seconds) {
  const int64_t z = seconds / 86400 + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const int64_t second_of_day = seconds % 86400;
  AppendInt(out, year);
  out.push_back('-');
  AppendTwoDigits(out, month);
  out.push_back('-');
  AppendTwoDigits(out, day);
  out.push_back(' ');
  AppendTwoDigits(out, second_of_day / 3600);
  out.push_back(':');
  AppendTwoDigits(out, second_of_day / 60 % 60);
  out.push_back(':');
  AppendTwoDigits(out, second_of_day % 60);
}

void AppendHeader(std::string& out) {
  for (int c = 0; c < kTabularColumns; ++c) {
    if (c > 0)
      out.push_back(',');
    AppendCsvField(out, kTabularColumnInfo[c].name);
  }
  out.push_back('\n');
}

void AppendRow(const TabularRow& row, std::string& out) {
  const auto& missing = row.missing;
  out.push_back(row.label ? '1' : '0');
  out.push_back(',');
  if (!missing[kTabPrice])
    AppendFixed(out, row.price_cents, 2);
  out.push_back(',');
  if (!missing[kTabAge])
    AppendInt(out, row.age);
  out.push_back(',');
  if (!missing[kTabScore])
    AppendFixed(out, row.score_milli, 3);
  out.push_back(',');
  if (!missing[kTabBigId]) {
    const auto id = fmt::format_int(row.big_id);
    out.append(id.data(), id.size());
  }
  out.push_back(',');
  if (!missing[kTabCity])
    AppendCsvField(out, kTabularCities[row.city]);
  out.push_back(',');
  if (!missing[kTabUser]) {
    out.push_back('u');
    AppendInt(out, row.user);
  }
  out.push_back(',');
  if (!missing[kTabDevice])
    AppendCsvField(out, kTabularDevices[row.device]);
  out.push_back(',');
  if (!missing[kTabGenres]) {
    // Genre names hold no character that needs quoting.
    bool first = true;
    for (size_t g = 0; g < kTabularGenres.size(); ++g) {
      if (!(row.genres & (1u << g)))
        continue;
      if (!first)
        out.push_back(kTabularListSeparator);
      out.append(kTabularGenres[g]);
      first = false;
    }
  }
  out.push_back(',');
  if (!missing[kTabTs])
    AppendTimestamp(out, row.ts);
  out.push_back('\n');
}

// SQL reading mixed.csv with every column's type given: no sniffing, so the twin's types do
// not depend on the sample DuckDB would look at.
std::string ReadCsvSql(const std::string& path) {
  std::string columns;
  for (const auto& column : kTabularColumnInfo) {
    const std::string_view type = column.name == "genres" ? "VARCHAR" : column.sql_type;
    columns += fmt::format("{}{}: {}", columns.empty() ? "" : ", ",
                           SqlString(std::string(column.name)), SqlString(std::string(type)));
  }
  return fmt::format(
      "read_csv({}, header = true, delim = ',', quote = '\"', escape = '\"', new_line = '\\n', "
      "auto_detect = false, timestampformat = {}, columns = {{{}}})",
      SqlString(path), SqlString(kTimestampFormat), columns);
}

// Writes the Parquet twin of `csv_path` to `parquet_path` atomically; returns its size.
int64_t WriteParquetTwin(const std::string& csv_path, const std::string& parquet_path,
                         int64_t rows) {
  std::string select;
  for (const auto& column : kTabularColumnInfo) {
    const std::string name = fmt::format("\"{}\"", column.name);
    if (!select.empty())
      select += ", ";
    select += column.name == "genres"
                  ? fmt::format("string_split({0}, '{1}') AS {0}", name, kTabularListSeparator)
                  : name;
  }
  // The writer's temporary file is where DuckDB writes; Commit() renames it, and the
  // writer's destructor removes it if the copy fails.
  AtomicFileWriter parquet(parquet_path);
  // One DuckDB thread: the file's bytes (row groups) then do not depend on --threads.
  DuckDb db(1);
  DuckResult copied =
      db.Query(fmt::format("COPY (SELECT {} FROM {}) TO {} (FORMAT parquet)", select,
                           ReadCsvSql(csv_path), SqlString(parquet.temp_path())),
               "writing " + parquet_path);
  DuckChunk chunk(copied.NextChunk());
  AIOK_ASSERT(chunk && chunk.rows() == 1);
  const int64_t written = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)))[0];
  AIOK_ASSERT(written == rows);
  std::error_code ec;
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(parquet.temp_path(), ec));
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot read the size of '{}': {}", parquet.temp_path(),
             ec.message());
  parquet.Commit();
  return bytes;
}

}  // namespace

GeneratorSummary TabularGenerator::Generate(const RunContext& ctx, const std::string& out_dir) {
  Validate();
  const auto start = std::chrono::steady_clock::now();
  const int64_t rows = options_.rows;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot create directory '{}': {}", out_dir, ec.message());
  // The manifest marks a complete directory: drop an old one before touching its data files.
  const std::string manifest_path = out_dir + "/datagen.json";
  fs::remove(manifest_path, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot remove old '{}': {}", manifest_path, ec.message());

  const TabularClickModel model(ctx.seed, options_.users, options_.ids, options_.pos_rate, rows);
  std::vector<float> truth(static_cast<size_t>(rows));
  std::vector<uint8_t> labels(static_cast<size_t>(rows));
  std::array<int64_t, kTabularColumns> missing_rows{};

  const std::string csv_path = out_dir + "/" + kCsvName;
  AtomicFileWriter csv_file(csv_path);
  AtomicFileWriter truth_file(out_dir + "/truth.f32");
  {
    std::string header;
    AppendHeader(header);
    csv_file.Write(header);
  }
  OrderedTurns turns;
  Progress progress("datagen tabular", rows, "rows");
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  ParallelFor(chunks, ctx.threads, [&](int64_t chunk) {
    try {
      ctx.cancel->ThrowIfCancelled();
      const int64_t begin = chunk * kChunkRows;
      const int64_t end = std::min(rows, begin + kChunkRows);
      std::string text;
      text.reserve(static_cast<size_t>(end - begin) * 128);
      std::array<int64_t, kTabularColumns> missing{};
      TabularRow row;
      for (int64_t r = begin; r < end; ++r) {
        model.MakeRow(r, &row);
        truth[r] = row.probability;
        labels[r] = row.label;
        for (int c = 0; c < kTabularColumns; ++c)
          missing[c] += row.missing[c];
        AppendRow(row, text);
      }
      turns.Commit(chunk, [&] {
        csv_file.Write(text);
        // x86-64 is little-endian, the documented byte order of truth.f32.
        truth_file.Write(truth.data() + begin, sizeof(float) * static_cast<size_t>(end - begin));
        for (int c = 0; c < kTabularColumns; ++c)
          missing_rows[c] += missing[c];
      });
      progress.Advance(end - begin);
    } catch (...) {
      turns.Abort();
      throw;
    }
  });
  progress.Finish();
  const auto bytes = static_cast<int64_t>(csv_file.size());
  csv_file.Commit();
  truth_file.Commit();

  ctx.cancel->ThrowIfCancelled();
  const int64_t parquet_bytes = WriteParquetTwin(csv_path, out_dir + "/" + kParquetName, rows);

  nlohmann::json manifest;
  manifest["format_version"] = kFormatVersion;
  manifest["generator"] = "tabular";
  manifest["layout"] = "mixed-csv";
  manifest["rows"] = rows;
  manifest["seed"] = ctx.seed;
  manifest["options"] = OptionsToJson(options_);
  manifest["files"] = {{"data", kCsvName},
                       {"parquet", kParquetName},
                       {"truth", "truth.f32"},
                       {"data_bytes", bytes},
                       {"parquet_bytes", parquet_bytes}};
  manifest["csv"] = {{"header", true},
                     {"delimiter", ","},
                     {"quote", "\""},
                     {"line_end", "\n"},
                     {"missing", ""},
                     {"list_separator", std::string(1, kTabularListSeparator)},
                     {"timestamp_format", kTimestampFormat}};
  manifest["label"] = "y";
  nlohmann::json columns = nlohmann::json::array();
  for (int c = 0; c < kTabularColumns; ++c) {
    const TabularColumnInfo& info = kTabularColumnInfo[c];
    columns.push_back({{"name", std::string(info.name)},
                       {"type", std::string(info.type)},
                       {"role", std::string(info.role)},
                       {"parquet_type", std::string(info.sql_type)},
                       {"missing_rate", info.missing_rate},
                       {"missing_rows", missing_rows[c]}});
  }
  manifest["columns"] = columns;
  manifest["truth_format"] = "float32 little-endian, one per row, row order";
  manifest["intercept"] = model.intercept();
  manifest["positive_rate"] = PositiveRate(labels.data(), labels.size());
  manifest["bayes"] = BayesScores(truth, labels);
  manifest["splits"] = SplitRule::Parse("kaggle").Describe() + "; ts rises with the row";
  WriteFileAtomic(manifest_path, manifest.dump(2) + "\n");

  GeneratorSummary summary;
  summary.rows = rows;
  summary.bytes = bytes;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.positive_rate = manifest["positive_rate"].get<double>();
  summary.bayes_auc = manifest["bayes"]["all"]["bayes_auc"].get<double>();
  summary.data_file = csv_path;
  return summary;
}

}  // namespace aiok::data
