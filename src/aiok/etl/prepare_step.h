// The `prepare:` stage of a pipeline: steps that change the set of rows or need the whole
// table (join, groupby_aggregate, filter, dedupe, sample, sort, difference_lag,
// collapse_history, negative_sample) and SQL expressions (sql), run in order by DuckDB over the
// input before the per-column steps (etl/prepare_runner.h executes them).
//
// Each step reads the table the one before wrote and writes the next, as SQL over DuckDB
// tables. Every table carries two hidden columns: __row, its rows' order (0..n-1: input
// order, or the sort step's), and __record, the input record a row came from (for messages
// and rejects). A step is declared once: its options (with lists of column names) walked by
// Visit(), so that `aiok etl --list-operators` prints them, and what it means at serving.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "aiok/core/options.h"
#include "aiok/data/time_values.h"

namespace aiok::etl {

/// OptionVisitor plus the list-valued keys prepare steps take.
class PrepareOptionVisitor : public OptionVisitor {
 public:
  /// A list of column names (a YAML list, or one name); `required`: it must not be empty.
  virtual void Names(const char* name, std::vector<std::string>* value, bool required,
                     const char* help) = 0;
  /// A map from column name to a list of names each one of `choices` (groupby's aggs).
  virtual void NameLists(const char* name,
                         std::vector<std::pair<std::string, std::vector<std::string>>>* value,
                         const std::vector<std::string>& choices, const char* help) = 0;
};

/// Walks a step's options for a plain OptionVisitor (the CLI's listing): lists are shown as
/// text keys whose default is the list joined by commas.
class PlainOptionAdapter final : public PrepareOptionVisitor {
 public:
  explicit PlainOptionAdapter(OptionVisitor* inner) : inner_(inner) {}
  void Int(const char* name, int64_t* value, int64_t min, int64_t max, const char* help) override {
    inner_->Int(name, value, min, max, help);
  }
  void Real(const char* name, double* value, double min, double max, const char* help) override {
    inner_->Real(name, value, min, max, help);
  }
  void Text(const char* name, std::string* value, const std::vector<std::string>& choices,
            const char* help) override {
    inner_->Text(name, value, choices, help);
  }
  void Flag(const char* name, bool* value, const char* help) override {
    inner_->Flag(name, value, help);
  }
  void Names(const char* name, std::vector<std::string>* value, bool required,
             const char* help) override;
  void NameLists(const char* name,
                 std::vector<std::pair<std::string, std::vector<std::string>>>* value,
                 const std::vector<std::string>& choices, const char* help) override;

 private:
  OptionVisitor* inner_;
  std::vector<std::string> texts_;  // keeps the shown text alive during the call
};

/// What a step does at serving time, where `aiok predict` and `aiok serve` score the rows
/// they are given.
enum class PrepareServing {
  kLookup,         ///< applied to each row as a lookup by key (join, groupby_aggregate)
  kRequestFields,  ///< its outputs are ordinary input fields the request carries
                   ///< (collapse_history, difference_lag)
  kComputed,       ///< computed from the row's fields by DuckDB (sql)
  kNotServed,      ///< changes the set or order of rows: does not run at serving
};

/// A column of a prepare table: name and DuckDB type ("BIGINT", "VARCHAR[]", ...).
struct PrepareColumn {
  std::string name;
  std::string type;
};

/// A lookup a step leaves for serving: a Parquet file of key columns and value columns; a row
/// whose keys are all present and found gets the values, any other row missing values (or 0
/// for the value columns in `zero_if_absent`: counts).
struct PrepareLookup {
  int step = 0;      ///< 1-based prepare step
  std::string op;    ///< join or groupby_aggregate
  std::string file;  ///< name inside the lookup directory
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<std::string> zero_if_absent;

  nlohmann::json ToJson() const;
  static PrepareLookup FromJson(const nlohmann::json& json, const std::string& where);
};

/// What a step may do while it runs (prepare_runner.cpp implements it).
class PrepareSession {
 public:
  virtual ~PrepareSession() = default;
  /// "prepare step N (name)", for messages.
  virtual const std::string& where() const = 0;
  /// The table the step reads: its name, columns (hidden ones excluded) and rows.
  virtual const std::string& input() const = 0;
  virtual const std::vector<PrepareColumn>& columns() const = 0;
  virtual int64_t rows() const = 0;
  /// The DuckDB type of column `name` of the input; a missing column throws Error(kConfig)
  /// naming the step, the option `option` and the table's columns.
  virtual const std::string& ColumnType(const std::string& name, const char* option) const = 0;
  /// Runs `sql`; a failure throws Error(kInvalidInput) naming the step and `what`.
  virtual void Run(const std::string& sql, const std::string& what) = 0;
  /// Runs `statement(table)`, a statement that computes the row expression `expression` (SQL
  /// over the input's columns) for every row of `table`: the input, or the input without the
  /// rows the expression fails on. When some rows' values make it fail (a cast of text that
  /// is no number, ...), the first such row fails the run naming its record, line and
  /// DuckDB's reason, or under --on-error skip every such row is rejected with its reason
  /// (unless an earlier step took train rows by position: then it fails naming that step).
  virtual void RunOnEveryRow(const std::string& expression, const std::string& what,
                             const std::function<std::string(const std::string&)>& statement) = 0;
  /// The first column of the first row of `sql` as text ("" for NULL or no row).
  virtual std::string QueryText(const std::string& sql, const std::string& what) = 0;
  /// Reads a side table (CSV/TSV or Parquet; a relative path is relative to the pipeline
  /// file) into the DuckDB table `name`; returns its columns and its size in bytes (the file's
  /// bytes, Parquet's uncompressed bytes), which decide a join's strategy.
  virtual std::vector<PrepareColumn> LoadSideTable(const std::string& path, const std::string& name,
                                                   int64_t* bytes) = 0;
  /// The ETL's memory budget in bytes (DuckDB's memory_limit).
  virtual int64_t memory_budget() const = 0;
  /// An SQL expression true for rows of the input that are in the train split of the
  /// prepared table. A split by position (kaggle, fractions, random) applies the rule to
  /// `position` (an SQL expression, by default __row) in a table of `rows` rows (-1: rows());
  /// a time split (time:FIELD:...) reads each row's FIELD as the ETL will (epoch seconds or
  /// YYMMDDHH, or a timestamp), with fractions of the time range over the times of rows with a
  /// label (and weight), fixed once per run and handed to the ETL as cut dates. A missing or
  /// bad time, or a missing label or weight (the ETL rejects the row), is never train. Errors
  /// (kConfig) name the step and the rule.
  virtual std::string TrainPredicate(const std::string& position = "__row", int64_t rows = -1) = 0;
  /// Whether the split rule cuts by each row's time (then positions do not matter).
  virtual bool split_by_time() const = 0;
  /// Whether `name` is the input's label or weight (a feature must not be made of it).
  virtual bool IsTarget(const std::string& name) const = 0;
  /// The values of `column` as seconds since the epoch: a timestamp; an integer (or text
  /// holding one) in `format` (epoch seconds or YYMMDDHH), converted as the time split and
  /// datetime_parts convert it; text holding a timestamp, parsed as the readers parse one; or
  /// a float of epoch seconds. A value that is no time fails naming the record, or under
  /// --on-error skip is rejected (unless an earlier step took train rows by position: then it
  /// fails naming that step). Returns the SQL expression of the time in seconds and the table
  /// to read instead of input().
  virtual std::string TimeSeconds(const std::string& column, data::TimeFormat format,
                                  std::string* table) = 0;
  /// Writes `select` (a query with the lookup's columns) for serving and records `lookup`.
  virtual void SaveLookup(const std::string& select, PrepareLookup lookup) = 0;
};

/// One step of the prepare stage.
class PrepareStep {
 public:
  virtual ~PrepareStep() = default;
  virtual const char* name() const = 0;
  /// One line for the listing: what the step does.
  virtual const char* summary() const = 0;
  virtual PrepareServing serving() const = 0;
  /// Whether the step can change the set or the order of rows (with its options as set).
  virtual bool changes_rows() const = 0;
  /// Whether it reads the train split (which is over the prepared table's rows, so no later
  /// step may change rows).
  virtual bool uses_train_split() const { return false; }
  virtual void VisitOptions(PrepareOptionVisitor& visitor) = 0;
  /// Checks that span several options; `where` names the step.
  virtual void CheckOptions(const std::string& where) const {}
  /// The fields the step adds to the table.
  virtual std::vector<std::string> Outputs() const { return {}; }
  /// Fields that hold an ordered list per row (role sequence in the prepared schema).
  virtual std::vector<std::string> SequenceOutputs() const { return {}; }
  /// A field the step writes that is a sample weight (role weight).
  virtual std::string WeightOutput() const { return ""; }
  /// Creates the table `output` from session.input(): every column of the input plus the
  /// step's outputs, with __row (0..n-1, the new order) and __record.
  virtual void Apply(PrepareSession& session, const std::string& output) = 0;

  nlohmann::json Options();
};

/// Creates prepare steps by name.
class PrepareRegistry {
 public:
  using Factory = std::function<std::unique_ptr<PrepareStep>()>;
  void Register(const std::string& name, Factory factory);
  /// Builds the step `name` from `options` (unknown keys, wrong types, bounds and missing
  /// required keys throw Error(kConfig) naming `where`); an unknown name lists the valid ones.
  std::unique_ptr<PrepareStep> Create(const std::string& name, const nlohmann::json& options,
                                      const std::string& where) const;
  /// The step at its defaults, unchecked: for listings.
  std::unique_ptr<PrepareStep> CreateDefault(const std::string& name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, Factory> factories_;
};

/// Registers every prepare step aiok ships.
void RegisterPrepareSteps(PrepareRegistry& registry);
void RegisterRowSteps(PrepareRegistry& registry);         // prepare_row_steps.cpp
void RegisterRelationalSteps(PrepareRegistry& registry);  // prepare_relational_steps.cpp
void RegisterSequenceSteps(PrepareRegistry& registry);    // prepare_sequence_steps.cpp
void RegisterExpressionSteps(PrepareRegistry& registry);  // prepare_sql_step.cpp

/// A SELECT of every column of `source` (an SQL table or subquery) with __row renumbered
/// 0..n-1 in the order `order` (an ORDER BY list), its rows in that order.
std::string RenumberedSelect(const std::string& source, const std::string& order);

/// The hidden columns' names.
constexpr const char* kRowColumn = "__row";
constexpr const char* kRecordColumn = "__record";

}  // namespace aiok::etl
