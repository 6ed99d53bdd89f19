#include "aiok/etl/prepare_runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/suggest.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/schema_inference.h"
#include "aiok/data/splits.h"
#include "aiok/data/time_values.h"
#include "aiok/data/value_parsing.h"
#include "aiok/etl/prepare_table_loader.h"

namespace aiok::etl {
namespace fs = std::filesystem;
namespace {

// aiok_unit(seed UBIGINT, row BIGINT, stream BIGINT) -> DOUBLE: the counter-based uniform draw
// of core/hash.h, so a step's draws depend only on (seed, row, stream), never on threads, and
// a reference can compute them too.
void UnitFunction(duckdb_function_info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  const auto* seed =
      static_cast<const uint64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(input, 0)));
  const auto* row =
      static_cast<const int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(input, 1)));
  const auto* stream =
      static_cast<const int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(input, 2)));
  auto* out = static_cast<double*>(duckdb_vector_get_data(output));
  for (idx_t i = 0; i < n; ++i) {
    out[i] = UnitDouble(
        HashTriple(seed[i], static_cast<uint64_t>(row[i]), static_cast<uint64_t>(stream[i])));
  }
}

// aiok_is_train(row BIGINT, rows BIGINT) -> BOOLEAN: whether 0-based row `row` of a table of
// `rows` rows is in the train split under the ETL's split rule (data/splits.h).
void IsTrainFunction(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const auto* rule =
      static_cast<const data::SplitRule*>(duckdb_scalar_function_get_extra_info(info));
  const idx_t n = duckdb_data_chunk_get_size(input);
  const auto* row =
      static_cast<const int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(input, 0)));
  const auto* rows =
      static_cast<const int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(input, 1)));
  auto* out = static_cast<bool*>(duckdb_vector_get_data(output));
  int64_t ranges_of = -1;
  data::SplitRanges ranges;
  // An exception must not cross DuckDB's C boundary: it becomes the query's error.
  try {
    for (idx_t i = 0; i < n; ++i) {
      if (rows[i] != ranges_of) {
        ranges = rule->Apply(rows[i]);
        ranges_of = rows[i];
      }
      out[i] = rule->Of(row[i], ranges) == data::kTrainSplit;
    }
  } catch (const std::exception& e) {
    duckdb_scalar_function_set_error(info, e.what());
  }
}

// aiok_time_seconds(value BIGINT, format BIGINT) -> BIGINT: the time an integer holds in
// `format` (data::TimeFormat: epoch seconds or YYMMDDHH, data/time_values.h), NULL when it is
// none — the conversion of the ETL's time split and datetime_parts, so every step reads an
// integer time as they do.
void TimeSecondsFunction(duckdb_function_info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  duckdb_vector in = duckdb_data_chunk_get_vector(input, 0);
  duckdb_vector formats = duckdb_data_chunk_get_vector(input, 1);
  const auto* value = static_cast<const int64_t*>(duckdb_vector_get_data(in));
  const auto* format = static_cast<const int64_t*>(duckdb_vector_get_data(formats));
  duckdb_vector_ensure_validity_writable(output);
  uint64_t* out_valid = duckdb_vector_get_validity(output);
  auto* out = static_cast<int64_t*>(duckdb_vector_get_data(output));
  std::string problem;
  for (idx_t i = 0; i < n; ++i) {
    const bool present = data::DuckValidAt(in, i) && data::DuckValidAt(formats, i);
    if (!present || !data::TimeFromInteger(value[i], static_cast<data::TimeFormat>(format[i]),
                                           &out[i], &problem))
      duckdb_validity_set_row_invalid(out_valid, i);
  }
}

// aiok_text_seconds(text VARCHAR, format BIGINT) -> BIGINT: a time written as text, read by
// aiok's own parsers: an integer in `format` (as aiok_time_seconds), else a timestamp
// ("2014-10-28 12:00:00", data/value_parsing.h, as the readers parse a timestamp field);
// NULL when it is neither.
void TextSecondsFunction(duckdb_function_info, duckdb_data_chunk input, duckdb_vector output) {
  const idx_t n = duckdb_data_chunk_get_size(input);
  duckdb_vector in = duckdb_data_chunk_get_vector(input, 0);
  duckdb_vector formats = duckdb_data_chunk_get_vector(input, 1);
  const auto* format = static_cast<const int64_t*>(duckdb_vector_get_data(formats));
  duckdb_vector_ensure_validity_writable(output);
  uint64_t* out_valid = duckdb_vector_get_validity(output);
  auto* out = static_cast<int64_t*>(duckdb_vector_get_data(output));
  std::string problem;
  for (idx_t i = 0; i < n; ++i) {
    bool ok = data::DuckValidAt(in, i) && data::DuckValidAt(formats, i);
    if (ok) {
      const std::string_view text = data::DuckTextAt(in, i);
      int64_t integer = 0;
      if (data::ParseInt64(text, &integer) == data::ParseStatus::kOk) {
        ok = data::TimeFromInteger(integer, static_cast<data::TimeFormat>(format[i]), &out[i],
                                   &problem);
      } else {
        ok = data::ParseTimestamp(text, &out[i]) == data::ParseStatus::kOk;
      }
    }
    if (!ok)
      duckdb_validity_set_row_invalid(out_valid, i);
  }
}

// aiok_time_is_train(seconds BIGINT) -> BOOLEAN: whether a row at `seconds` is train under a
// time split whose cut points are known.
void TimeIsTrainFunction(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const auto* rule =
      static_cast<const data::SplitRule*>(duckdb_scalar_function_get_extra_info(info));
  const idx_t n = duckdb_data_chunk_get_size(input);
  duckdb_vector in = duckdb_data_chunk_get_vector(input, 0);
  const auto* seconds = static_cast<const int64_t*>(duckdb_vector_get_data(in));
  auto* out = static_cast<bool*>(duckdb_vector_get_data(output));
  try {
    for (idx_t i = 0; i < n; ++i) {
      out[i] = data::DuckValidAt(in, i) && rule->OfTime(seconds[i]) == data::kTrainSplit;
    }
  } catch (const std::exception& e) {
    duckdb_scalar_function_set_error(info, e.what());
  }
}

// `nulls_in`: NULL arguments reach the function, which decides what they give (else NULL).
void RegisterFunction(data::DuckDb& db, const char* name, std::vector<duckdb_type> parameters,
                      duckdb_type result, duckdb_scalar_function_t function, void* extra,
                      bool nulls_in = false) {
  duckdb_scalar_function f = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(f, name);
  for (duckdb_type type : parameters) {
    duckdb_logical_type logical = duckdb_create_logical_type(type);
    duckdb_scalar_function_add_parameter(f, logical);
    duckdb_destroy_logical_type(&logical);
  }
  duckdb_logical_type logical = duckdb_create_logical_type(result);
  duckdb_scalar_function_set_return_type(f, logical);
  duckdb_destroy_logical_type(&logical);
  duckdb_scalar_function_set_function(f, function);
  if (nulls_in)
    duckdb_scalar_function_set_special_handling(f);
  if (extra)
    duckdb_scalar_function_set_extra_info(f, extra, nullptr);
  const duckdb_state state = duckdb_register_scalar_function(db.connection(), f);
  duckdb_destroy_scalar_function(&f);
  AIOK_CHECK(state == DuckDBSuccess, ErrorKind::kInternal, "cannot register {} with DuckDB", name);
}

// The columns of a table (hidden ones left out) and their DuckDB types.
std::vector<PrepareColumn> Describe(data::DuckDb& db, const std::string& table) {
  data::DuckResult result =
      db.Query(fmt::format("SELECT CAST(column_name AS VARCHAR), CAST(column_type AS VARCHAR) FROM "
                           "(DESCRIBE {})",
                           table),
               "describing " + table);
  std::vector<PrepareColumn> columns;
  for (data::DuckChunk chunk(result.NextChunk()); chunk;
       chunk = data::DuckChunk(result.NextChunk())) {
    auto* names = static_cast<duckdb_string_t*>(duckdb_vector_get_data(chunk.column(0)));
    auto* types = static_cast<duckdb_string_t*>(duckdb_vector_get_data(chunk.column(1)));
    for (size_t r = 0; r < chunk.rows(); ++r) {
      PrepareColumn column{
          std::string(duckdb_string_t_data(&names[r]), duckdb_string_t_length(names[r])),
          std::string(duckdb_string_t_data(&types[r]), duckdb_string_t_length(types[r]))};
      if (column.name != kRowColumn && column.name != kRecordColumn)
        columns.push_back(std::move(column));
    }
  }
  return columns;
}

// Roles only matter for reading here: a label or weight must be present, and the prepare stage
// reads side tables and keeps missing labels for the ETL to judge, so neither role is kept.
// `targets` (if given) receives the label and weight fields the ETL will see. A user's schema
// (`given`) types the fields it names and gives a text file's format, so a value is read here
// as the ETL and serving read it (a zip code "02139" as text, a hex id as hex); the fields it
// does not name keep their inferred types, since steps may read them.
data::TableSchema ReadingSchema(const std::string& path, int threads, const std::string& label = "",
                                std::vector<std::string>* targets = nullptr,
                                const data::TableSchema* given = nullptr) {
  data::InferOptions infer;
  infer.threads = threads;
  infer.label = given ? "" : label;
  data::TableSchema schema = data::InferSchema(path, infer);
  if (given && !data::IsParquetFile(path))
    schema.format = given->format;
  for (data::Field& field : schema.fields) {
    const int index = given ? given->Find(field.name) : -1;
    const data::Field* named = index < 0 ? nullptr : &given->fields[static_cast<size_t>(index)];
    if (named && field.role != data::FieldRole::kIgnored)
      field.type = named->type;
    const data::FieldRole role =
        given ? (named ? named->role : data::FieldRole::kDense) : field.role;
    if (field.role == data::FieldRole::kLabel || field.role == data::FieldRole::kWeight)
      field.role = data::FieldRole::kDense;
    if (targets && (role == data::FieldRole::kLabel || role == data::FieldRole::kWeight))
      targets->push_back(field.name);
  }
  return schema;
}

class Runner;

class StepSession final : public PrepareSession {
 public:
  StepSession(Runner& runner, int index, const std::string& op, std::string input)
      : runner_(runner), index_(index), op_(op), input_(std::move(input)) {
    where_ = fmt::format("prepare step {} ({})", index, op);
  }
  const std::string& where() const override { return where_; }
  const std::string& input() const override { return input_; }
  const std::vector<PrepareColumn>& columns() const override;
  int64_t rows() const override;
  const std::string& ColumnType(const std::string& name, const char* option) const override;
  void Run(const std::string& sql, const std::string& what) override;
  void RunOnEveryRow(const std::string& expression, const std::string& what,
                     const std::function<std::string(const std::string&)>& statement) override;
  std::string QueryText(const std::string& sql, const std::string& what) override;
  std::vector<PrepareColumn> LoadSideTable(const std::string& path, const std::string& name,
                                           int64_t* bytes) override;
  int64_t memory_budget() const override;
  std::string TrainPredicate(const std::string& position, int64_t rows) override;
  bool split_by_time() const override;
  bool IsTarget(const std::string& name) const override;
  std::string TimeSeconds(const std::string& column, data::TimeFormat format,
                          std::string* table) override;
  void SaveLookup(const std::string& select, PrepareLookup lookup) override;

 private:
  // Under --on-error skip: rejects each (record, reason) of `rejects` and returns a scratch
  // table (input + `suffix`) of the input without the rows `dropped` (an SQL condition) holds
  // for, renumbered; `why` says why in the warning. Refused, naming the first reject, when an
  // earlier step took train rows by position: the fix is to move it or to fix the `values`.
  std::string DropRejected(const std::vector<std::pair<int64_t, std::string>>& rejects,
                           const std::string& dropped, const std::string& suffix,
                           const std::string& why, const char* values);

  Runner& runner_;
  int index_;
  std::string op_;
  std::string input_;
  std::string where_;
};

class Runner {
 public:
  Runner(const PrepareOptions& options, const RunContext& ctx)
      : options_(options),
        ctx_(ctx),
        db_(ctx.threads),
        rule_(data::SplitRule::Parse(options.split_rule)),
        time_rule_(rule_) {
    const std::string spill = options.work_dir + "/duckdb_tmp";
    fs::create_directories(spill);
    fs::create_directories(options.work_dir + "/lookups");
    db_.Query(fmt::format("SET memory_limit = '{}MiB'",
                          std::max<int64_t>(options.memory_budget >> 20, 16)),
              "DuckDB setup");
    db_.Query("SET temp_directory = " + data::SqlString(spill), "DuckDB setup");
    db_.Query("SET preserve_insertion_order = true", "DuckDB setup");
    RegisterFunction(db_, "aiok_unit",
                     {DUCKDB_TYPE_UBIGINT, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_BIGINT},
                     DUCKDB_TYPE_DOUBLE, UnitFunction, nullptr);
    RegisterFunction(db_, "aiok_is_train", {DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_BIGINT},
                     DUCKDB_TYPE_BOOLEAN, IsTrainFunction, &rule_);
    RegisterFunction(db_, "aiok_time_seconds", {DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_BIGINT},
                     DUCKDB_TYPE_BIGINT, TimeSecondsFunction, nullptr, /*nulls_in=*/true);
    RegisterFunction(db_, "aiok_text_seconds", {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BIGINT},
                     DUCKDB_TYPE_BIGINT, TextSecondsFunction, nullptr, /*nulls_in=*/true);
    RegisterFunction(db_, "aiok_time_is_train", {DUCKDB_TYPE_BIGINT}, DUCKDB_TYPE_BOOLEAN,
                     TimeIsTrainFunction, &time_rule_, /*nulls_in=*/true);
  }

  PrepareResult Run(std::vector<std::unique_ptr<PrepareStep>>& steps) {
    PrepareResult result;
    result.input_schema =
        ReadingSchema(options_.input, ctx_.threads, options_.label, &targets_, options_.schema);
    header_ = !data::IsParquetFile(options_.input) && result.input_schema.format.header;
    const LoadedTable input =
        LoadTable(db_, options_.input, result.input_schema, options_.on_error, ctx_, "t0");
    one_line_records_ = input.one_line_records;
    result.input_records = input.records;
    rejects_ = input.rejects;
    std::string table = "t0";
    Refresh(table);
    spdlog::debug("prepare: {} rows read from {}", rows_, options_.input);
    for (size_t s = 0; s < steps.size(); ++s) {
      ctx_.cancel->ThrowIfCancelled();
      const int index = static_cast<int>(s) + 1;
      const std::string next = fmt::format("t{}", index);
      StepSession session(*this, index, steps[s]->name(), table);
      // One check for every step's new fields: a name already in the table would be doubled
      // or would shadow the column (a join's added columns are checked by the join itself, as
      // they are known only once its side table is read).
      for (const std::string& name : steps[s]->Outputs()) {
        for (const PrepareColumn& column : session.columns()) {
          AIOK_CHECK(column.name != name, ErrorKind::kConfig,
                     "{}: the output field '{}' is already a column of the table; name it "
                     "otherwise",
                     session.where(), name);
        }
      }
      steps[s]->Apply(session, next);
      if (steps[s]->uses_train_split() && train_split_step_.empty())
        train_split_step_ = session.where();
      for (const std::string& name : scratch_)
        db_.Query("DROP TABLE IF EXISTS " + name, "dropping " + name);
      scratch_.clear();
      db_.Query("DROP TABLE " + table, "dropping " + table);
      table = next;
      const int64_t before = rows_;
      Refresh(table);
      spdlog::debug("prepare step {} ({}): {} -> {} rows", index, steps[s]->name(), before, rows_);
      for (const std::string& name : steps[s]->SequenceOutputs())
        result.sequence_fields.push_back(name);
      for (const std::string& name : steps[s]->Outputs())
        result.outputs.push_back(name);
      if (!steps[s]->WeightOutput().empty()) {
        result.weight_field = steps[s]->WeightOutput();
        targets_.push_back(result.weight_field);
      }
    }
    AIOK_CHECK(rows_ > 0, ErrorKind::kInvalidInput,
               "{}: the prepare steps left no rows (of {} read from {})", options_.source,
               input.rows, options_.input);
    result.prepared = options_.work_dir + "/prepared.parquet";
    const std::string temp = TemporaryPath(result.prepared);
    db_.Query(fmt::format("COPY (SELECT * EXCLUDE (__row, __record) FROM {} ORDER BY __row) TO {} "
                          "(FORMAT parquet)",
                          table, data::SqlString(temp)),
              "writing the prepared table");
    PublishFile(temp, result.prepared);
    result.rows = rows_;
    if (time_cuts_known_)
      result.split_rule = time_rule_.text();
    result.rejects = rejects_;
    result.lookups = lookups_;
    WriteFileAtomic(options_.work_dir + "/lookups/" + kLookupManifest,
                    LookupsJson().dump(2) + "\n");
    return result;
  }

  // --- for StepSession
  data::DuckDb& db() { return db_; }
  const PrepareOptions& options() const { return options_; }
  const RunContext& ctx() const { return ctx_; }
  const std::vector<PrepareColumn>& columns() const { return columns_; }
  int64_t rows() const { return rows_; }
  void AddScratch(const std::string& table) { scratch_.push_back(table); }
  const data::SplitRule& rule() const { return rule_; }
  // The time rule with its cut points: fractions of the time range are fixed from `min` and
  // `max` (the table's earliest and latest times) exactly as the ETL fixes them from every
  // record's time. Fixed once, by the first step that reads the split (no later step changes
  // rows); the ETL is then given the cut dates (PrepareResult::split_rule), so it cuts the
  // rows the steps took as train even where it rejects rows the steps could not foresee.
  void FixTimeCuts(int64_t min, int64_t max) {
    time_rule_ = rule_;
    if (min <= max)
      time_rule_.AssignByTime({min, max});
    else
      time_rule_.AssignByTime({});
    time_cuts_fixed_ = true;
    time_cuts_known_ = min <= max;
  }
  bool time_cuts_fixed() const { return time_cuts_fixed_; }
  // The first step that took rows of the train split ("" none yet).
  const std::string& train_split_step() const { return train_split_step_; }
  bool IsTarget(const std::string& name) const {
    return std::find(targets_.begin(), targets_.end(), name) != targets_.end();
  }
  void AddLookup(PrepareLookup lookup) { lookups_.push_back(std::move(lookup)); }
  void Reject(int64_t record, std::string reason) {
    rejects_.push_back(data::RejectedRecord{record, LineOf(record), std::move(reason)});
  }
  // "record R (line L)" of the input, for messages.
  std::string Place(int64_t record) const {
    const int64_t line = LineOf(record);
    return line > 0 ? fmt::format("{}:{}: record {}", options_.input, line, record)
                    : fmt::format("{}: record {}", options_.input, record);
  }

 private:
  int64_t LineOf(int64_t record) const {
    if (data::IsParquetFile(options_.input) || !one_line_records_)
      return 0;
    return record + (header_ ? 1 : 0);
  }

  void Refresh(const std::string& table) {
    columns_ = Describe(db_, table);
    data::DuckResult count = db_.Query("SELECT CAST(count(*) AS VARCHAR) FROM " + table, table);
    rows_ = std::stoll(count.FirstText());
  }

  nlohmann::json LookupsJson() const {
    nlohmann::json list = nlohmann::json::array();
    for (const PrepareLookup& lookup : lookups_)
      list.push_back(lookup.ToJson());
    return {{"lookups", list}};
  }

  const PrepareOptions& options_;
  const RunContext& ctx_;
  data::DuckDb db_;
  data::SplitRule rule_;
  data::SplitRule time_rule_;  // rule_ with its cut points, for aiok_time_is_train
  bool time_cuts_fixed_ = false;
  bool time_cuts_known_ = false;  // the cuts came from times (not from a table without any)
  std::string train_split_step_;
  std::vector<std::string> targets_;  // label and weight fields
  bool header_ = false;
  bool one_line_records_ = true;
  std::vector<PrepareColumn> columns_;
  int64_t rows_ = 0;
  std::vector<std::string> scratch_;
  std::vector<PrepareLookup> lookups_;
  std::vector<data::RejectedRecord> rejects_;
};

const std::vector<PrepareColumn>& StepSession::columns() const { return runner_.columns(); }
int64_t StepSession::rows() const { return runner_.rows(); }
int64_t StepSession::memory_budget() const { return runner_.options().memory_budget; }

const std::string& StepSession::ColumnType(const std::string& name, const char* option) const {
  std::vector<std::string> names;
  for (const PrepareColumn& column : runner_.columns()) {
    if (column.name == name)
      return column.type;
    names.push_back(column.name);
  }
  Throw(ErrorKind::kConfig, "{}: {}: no column '{}'{} (the table's columns at this step: {})",
        where_, option, name, DidYouMean(name, names), fmt::join(names, ", "));
}

void StepSession::Run(const std::string& sql, const std::string& what) {
  spdlog::trace("{}: {}", where_, sql);
  runner_.db().Query(sql, fmt::format("{}: {}", where_, what));
}

namespace {

// DuckDB's reason without the query context it appends ("LINE 1: ..." and a caret line).
std::string FirstLine(const std::string& message) {
  return message.substr(0, message.find('\n'));
}

}  // namespace

void StepSession::RunOnEveryRow(const std::string& expression, const std::string& what,
                                const std::function<std::string(const std::string&)>& statement) {
  try {
    Run(statement(input_), what);
    return;
  } catch (const Error& whole) {
    // Which rows? Only those whose TRY() is NULL can fail (TRY gives NULL for an error, and
    // for a value that is NULL anyway); candidates are bisected, each probe a query over a
    // range of them, so k failing rows of c candidates take O(k log c) queries.
    const std::string candidates = input_ + "_try";
    runner_.AddScratch(candidates);
    runner_.db().Query(
        fmt::format("CREATE TABLE {} AS SELECT CAST(row_number() OVER (ORDER BY __row) - 1 AS "
                    "BIGINT) AS __i, __row, __record FROM {} WHERE TRY({}) IS NULL",
                    candidates, input_, expression),
        fmt::format("{}: {}: finding the rows it fails on", where_, what));
    const int64_t count = std::stoll(QueryText(
        "SELECT CAST(count(*) AS VARCHAR) FROM " + candidates, "counting the candidates"));
    // Whether the expression fails on candidates [a, b]; DuckDB's reason in *reason.
    auto fails = [&](int64_t a, int64_t b, std::string* reason) {
      try {
        runner_.db().Query(
            fmt::format("SELECT count(__x) FROM (SELECT {} AS __x FROM {} WHERE __row IN "
                        "(SELECT __row FROM {} WHERE __i BETWEEN {} AND {}))",
                        expression, input_, candidates, a, b),
            "");
        return false;
      } catch (const Error& e) {
        *reason = FirstLine(e.what());
        // Query's empty context leaves ": " in front of DuckDB's message.
        if (reason->rfind(": ", 0) == 0)
          reason->erase(0, 2);
        return true;
      }
    };
    std::string reason;
    if (count == 0 || !fails(0, count - 1, &reason))
      throw;  // not a row's values: the statement itself failed
    auto place_of = [&](int64_t i) {
      return std::stoll(QueryText(
          fmt::format("SELECT CAST(__record AS VARCHAR) FROM {} WHERE __i = {}", candidates, i),
          "naming a row"));
    };
    auto message = [&](const std::string& why) {
      return fmt::format("{}: {} fails on this row: {}", where_, what, why);
    };
    if (runner_.options().on_error == data::OnError::kFail) {
      // The first failing candidate: the smallest b with [0, b] failing.
      int64_t lo = 0, hi = count - 1;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        std::string ignored;
        if (fails(0, mid, &ignored))
          hi = mid;
        else
          lo = mid + 1;
      }
      fails(lo, lo, &reason);
      Throw(ErrorKind::kInvalidInput, "{}: {}", runner_.Place(place_of(lo)), message(reason));
    }
    std::vector<std::pair<int64_t, std::string>> failing;  // candidate, reason
    std::function<void(int64_t, int64_t)> bisect = [&](int64_t a, int64_t b) {
      std::string why;
      if (!fails(a, b, &why))
        return;
      if (a == b) {
        failing.emplace_back(a, why);
        return;
      }
      const int64_t mid = a + (b - a) / 2;
      bisect(a, mid);
      bisect(mid + 1, b);
    };
    bisect(0, count - 1);
    std::vector<std::pair<int64_t, std::string>> rejects;
    std::string list;
    for (const auto& [i, why] : failing) {
      rejects.emplace_back(place_of(i), message(why));
      list += fmt::format("{}{}", list.empty() ? "" : ",", i);
    }
    const std::string kept = DropRejected(
        rejects, fmt::format("__row IN (SELECT __row FROM {} WHERE __i IN ({}))", candidates, list),
        "_computable", what + " fails on them", "values");
    Run(statement(kept), what);
  }
}

std::string StepSession::QueryText(const std::string& sql, const std::string& what) {
  data::DuckResult result = runner_.db().Query(sql, fmt::format("{}: {}", where_, what));
  return result.FirstText();
}

std::vector<PrepareColumn> StepSession::LoadSideTable(const std::string& path,
                                                      const std::string& name, int64_t* bytes) {
  const std::string& base = runner_.options().relative_to;
  const std::string resolved =
      fs::path(path).is_absolute() || base.empty() ? path : (fs::path(base) / path).string();
  AIOK_CHECK(fs::exists(resolved), ErrorKind::kIo, "{}: the side table {} does not exist", where_,
             resolved);
  const data::TableSchema schema = ReadingSchema(resolved, runner_.ctx().threads);
  LoadedTable loaded;
  try {
    loaded =
        LoadTable(runner_.db(), resolved, schema, runner_.options().on_error, runner_.ctx(), name);
  } catch (Error& e) {
    throw e.AddContext(fmt::format("{}: reading the side table", where_));
  }
  runner_.AddScratch(name);
  if (!loaded.rejects.empty()) {
    spdlog::warn("{}: {} record(s) of the side table {} skipped; the first: line {}: {}", where_,
                 loaded.rejects.size(), resolved, loaded.rejects[0].line, loaded.rejects[0].reason);
  }
  if (data::IsParquetFile(resolved)) {
    data::DuckResult size =
        runner_.db().Query(fmt::format("SELECT CAST(sum(total_uncompressed_size) AS VARCHAR) FROM "
                                       "parquet_metadata({})",
                                       data::SqlString(resolved)),
                           where_ + ": sizing the side table");
    const std::string text = size.FirstText();
    *bytes = text.empty() ? 0 : std::stoll(text);
  } else {
    *bytes = static_cast<int64_t>(fs::file_size(resolved));
  }
  return Describe(runner_.db(), name);
}

std::string StepSession::TrainPredicate(const std::string& position, int64_t rows) {
  // The ETL rejects a row without a label or weight: never a train row, wherever it lies.
  std::string kept = "true";
  for (const PrepareColumn& column : runner_.columns()) {
    if (runner_.IsTarget(column.name))
      kept += fmt::format(" AND {} IS NOT NULL", data::SqlName(column.name));
  }
  const data::SplitRule& rule = runner_.rule();
  if (!rule.by_time()) {
    return fmt::format("({} AND aiok_is_train({}, {}))", kept, position,
                       rows < 0 ? runner_.rows() : rows);
  }
  const std::string option = fmt::format("the split rule {}", rule.text());
  const std::string& type = ColumnType(rule.time_field(), option.c_str());
  // The ETL's time split reads integers or timestamps (etl/time_operators.h); so does this.
  AIOK_CHECK(type == "BIGINT" || type == "TIMESTAMP", ErrorKind::kConfig,
             "{}: {}: the field {} holds {}; a time split reads integers (epoch seconds or "
             "YYMMDDHH) or timestamps",
             where_, option, rule.time_field(), type);
  const std::string c = data::SqlName(rule.time_field());
  const std::string seconds =
      fmt::format("aiok_time_seconds({}, {})",
                  type == "BIGINT" ? c : fmt::format("CAST(epoch({}) AS BIGINT)", c),
                  static_cast<int>(rule.time_format()));
  if (!runner_.time_cuts_fixed()) {
    // The ETL fixes fractions from the times of the records it accepts, and it rejects a row
    // without a label or weight before reading its time: those rows are left out here too.
    const std::string range = QueryText(
        fmt::format("SELECT CAST(min(__s) AS VARCHAR) || ' ' || CAST(max(__s) AS VARCHAR) "
                    "FROM (SELECT {} AS __s FROM {} WHERE {})",
                    seconds, input_, kept),
        "reading the range of the split's times");
    if (range.empty()) {
      runner_.FixTimeCuts(1, 0);  // no times: no train rows
    } else {
      const size_t space = range.find(' ');
      runner_.FixTimeCuts(std::stoll(range.substr(0, space)), std::stoll(range.substr(space + 1)));
    }
  }
  return fmt::format("({} AND coalesce(aiok_time_is_train({}), false))", kept, seconds);
}

bool StepSession::split_by_time() const { return runner_.rule().by_time(); }
bool StepSession::IsTarget(const std::string& name) const { return runner_.IsTarget(name); }

std::string StepSession::TimeSeconds(const std::string& column, data::TimeFormat format,
                                     std::string* table) {
  const std::string& type = ColumnType(column, "time");
  const std::string c = data::SqlName(column);
  const char* format_name = data::TimeFormatName(format);
  *table = input_;
  if (type.rfind("TIMESTAMP", 0) == 0 || type == "DATE")
    return fmt::format("CAST(epoch({}) AS BIGINT)", c);
  const bool integer = data::IsDuckIntegerType(type);
  AIOK_CHECK(integer || type == "VARCHAR" || format == data::TimeFormat::kEpoch, ErrorKind::kConfig,
             "{}: time: column '{}' holds {}; a {} time is a whole number (format: {})", where_,
             column, type, format_name, format_name);
  if (data::IsDuckNumericType(type) && !integer)
    return fmt::format("CAST({} AS DOUBLE)", c);  // epoch seconds with a fraction
  AIOK_CHECK(integer || type == "VARCHAR", ErrorKind::kConfig,
             "{}: time: column '{}' holds {}, expected timestamps or whole numbers ({})", where_,
             column, type, format_name);
  // Integers and text go through aiok's conversions (those of the time split and
  // datetime_parts; the readers' timestamp parser for text), and a value that is no time in
  // the format fails, or is rejected.
  const std::string parsed =
      integer ? fmt::format("aiok_time_seconds(TRY_CAST({} AS BIGINT), {})", c,
                            static_cast<int>(format))
              : fmt::format("aiok_text_seconds({}, {})", c, static_cast<int>(format));
  const std::string bad = fmt::format("{} IS NOT NULL AND {} IS NULL", c, parsed);
  data::DuckResult result = runner_.db().Query(
      fmt::format("SELECT __record, CAST({} AS VARCHAR) FROM {} WHERE {} ORDER BY __row", c, input_,
                  bad),
      where_ + ": parsing the time column");
  std::vector<std::pair<int64_t, std::string>> failures;
  for (data::DuckChunk chunk(result.NextChunk()); chunk;
       chunk = data::DuckChunk(result.NextChunk())) {
    const auto* records = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)));
    for (size_t r = 0; r < chunk.rows(); ++r)
      failures.emplace_back(records[r], std::string(data::DuckTextAt(chunk.column(1), r)));
    if (runner_.options().on_error == data::OnError::kFail && !failures.empty())
      break;
  }
  if (failures.empty())
    return parsed;
  auto reason = [&](const std::string& text) {
    return fmt::format(
        "{}: time column '{}': expected a timestamp (2014-10-28 12:00:00) or a whole number "
        "of {}, found '{}'",
        where_, column,
        format == data::TimeFormat::kYymmddhh ? "YYMMDDHH" : "seconds since the epoch", text);
  };
  if (runner_.options().on_error == data::OnError::kFail) {
    Throw(ErrorKind::kInvalidInput, "{}: {}", runner_.Place(failures[0].first),
          reason(failures[0].second));
  }
  for (auto& [record, text] : failures)
    text = reason(text);
  *table = DropRejected(failures, bad, "_timed", "their time does not parse", "times");
  return parsed;
}

std::string StepSession::DropRejected(const std::vector<std::pair<int64_t, std::string>>& rejects,
                                      const std::string& dropped, const std::string& suffix,
                                      const std::string& why, const char* values) {
  // Dropping rows renumbers the table, and the rows a step before took as the train split
  // (by position) would no longer be the ETL's: refused rather than silently shifted.
  AIOK_CHECK(runner_.train_split_step().empty(), ErrorKind::kInvalidInput,
             "{}: {}; under --on-error skip its row(s) ({} of them) would be dropped here, after "
             "{} took its train rows from the table: put that step after this one, or fix the "
             "{}",
             runner_.Place(rejects[0].first), rejects[0].second, rejects.size(),
             runner_.train_split_step(), values);
  for (const auto& [record, reason] : rejects)
    runner_.Reject(record, reason);
  spdlog::warn("{}: {} row(s) rejected: {}", where_, rejects.size(), why);
  const std::string table = input_ + suffix;
  runner_.AddScratch(table);
  runner_.db().Query(
      fmt::format("CREATE TABLE {} AS {}", table,
                  RenumberedSelect(fmt::format("(SELECT * FROM {} WHERE NOT coalesce({}, false))",
                                               input_, dropped),
                                   "__row")),
      fmt::format("{}: dropping the rows: {}", where_, why));
  return table;
}

void StepSession::SaveLookup(const std::string& select, PrepareLookup lookup) {
  lookup.step = index_;
  lookup.op = op_;
  lookup.file = fmt::format("step{}_{}.parquet", index_, op_);
  const std::string path = runner_.options().work_dir + "/lookups/" + lookup.file;
  Run(fmt::format("COPY ({}) TO {} (FORMAT parquet)", select, data::SqlString(path)),
      "saving the lookup for serving");
  runner_.AddLookup(std::move(lookup));
}

}  // namespace

std::vector<std::unique_ptr<PrepareStep>> BuildPrepareSteps(const std::vector<OperatorSpec>& steps,
                                                            const std::string& source) {
  PrepareRegistry registry;
  RegisterPrepareSteps(registry);
  std::vector<std::unique_ptr<PrepareStep>> built;
  for (size_t s = 0; s < steps.size(); ++s) {
    built.push_back(
        registry.Create(steps[s].name, steps[s].options,
                        fmt::format("{}: prepare step {} ({})", source, s + 1, steps[s].name)));
  }
  // The train rows of groupby_aggregate and negative_sample are rows of the prepared table:
  // no later step may move them.
  for (size_t s = 0; s < built.size(); ++s) {
    if (!built[s]->uses_train_split())
      continue;
    for (size_t later = s + 1; later < built.size(); ++later) {
      AIOK_CHECK(!built[later]->changes_rows(), ErrorKind::kConfig,
                 "{}: prepare step {} ({}) takes its statistics from the train split of the "
                 "prepared table, but step {} ({}) changes the rows after it; put {} after "
                 "every step that filters, samples, sorts, dedupes or adds rows",
                 source, s + 1, built[s]->name(), later + 1, built[later]->name(),
                 built[s]->name());
    }
  }
  return built;
}

PrepareResult RunPrepare(const std::vector<OperatorSpec>& specs, const PrepareOptions& options,
                         const RunContext& ctx) {
  AIOK_ASSERT(options.memory_budget > 0 && !options.work_dir.empty());
  std::vector<std::unique_ptr<PrepareStep>> steps = BuildPrepareSteps(specs, options.source);
  Runner runner(options, ctx);
  return runner.Run(steps);
}

void ExportPrepared(const PrepareResult& result, const std::string& path, int threads) {
  data::DuckDb db(threads);
  const bool json = path.size() > 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
  const std::string temp = TemporaryPath(path);
  db.Query(fmt::format("COPY (SELECT * FROM read_parquet({})) TO {} (FORMAT {})",
                       data::SqlString(result.prepared), data::SqlString(temp),
                       json ? "json" : "parquet"),
           "writing " + path);
  PublishFile(temp, path);
}

}  // namespace aiok::etl
