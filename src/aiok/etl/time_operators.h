// Time features (issue 11): the calendar parts of a time as categorical ids, and the check
// that a batch's times can be read before the ETL encodes it.
//
// A chain writes one field, so each part is its own step; the time field's own chain can
// become one part and derived steps add the others:
//
//   - columns: [hour]                      # Avazu's YYMMDDHH: the field becomes its hour
//     ops: [datetime_parts: {part: hour, format: yymmddhh}]
//   - inputs: [hour]
//     output: hour.weekday
//     ops: [datetime_parts: {part: weekday, format: yymmddhh}]
//
// datetime_parts reads raw times, so it is the first operator of its chain. Times are numbers
// (schema inference makes an integer column dense): its input is a dense field holding whole
// numbers — epoch seconds or YYMMDDHH, of type int64 or float64 — or parsed timestamps (type
// `timestamp`).
// A value that is not a time (month 13, hour 25) is bad input: the ETL names the record, the
// operator and the column, or rejects the row under --on-error skip (TimeValueCheck).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aiok/data/on_error.h"
#include "aiok/data/schema.h"
#include "aiok/data/splits.h"
#include "aiok/data/table_batch.h"
#include "aiok/data/time_values.h"
#include "aiok/etl/operator_base.h"
#include "aiok/etl/pipeline.h"

namespace aiok::etl {

struct DatetimePartsOptions {
  std::string part = "hour";
  std::string format = "epoch";
  int64_t first_year = 1970;
  int64_t last_year = 2099;
  template <typename V>
  void Visit(V& v) {
    v.Text("part", &part, {"hour", "weekday", "day", "month", "year"},
           "the part written as an id: hour 1-24 (hour 0 is id 1), weekday 1-7 (Monday is 1), "
           "day of month 1-31, month 1-12, year 1 + year - first_year; 0 missing");
    v.Text("format", &format, {"epoch", "yymmddhh"},
           "how the input holds times: epoch (seconds since 1970, or a field of type "
           "timestamp) or yymmddhh (Avazu's hour: 14102107 is 2014-10-21 07h)");
    v.Int("first_year", &first_year, -100000, 100000, "part year: the year of id 1");
    v.Int("last_year", &last_year, -100000, 100000,
          "part year: the last year with an id (a later or earlier year is bad input)");
  }
};

/// A time's calendar part as an id (see the options). Needs no fit; the ids of each part are
/// fixed, so serving gives the same ids for times the train rows never had.
class DatetimeParts final : public OperatorWithOptions<DatetimePartsOptions> {
 public:
  enum class Part { kHour, kWeekday, kDay, kMonth, kYear };

  const char* name() const override { return "datetime_parts"; }
  ColumnKind kind() const override { return ColumnKind::kDense; }
  ColumnKind output_kind() const override { return ColumnKind::kCategorical; }
  bool needs_fit() const override { return false; }
  void CheckOptions(const std::string& where) const override;
  /// A value that is not a time throws Error(kInvalidInput) naming the operator and value.
  void TransformDenseToIds(const double* values, size_t n, int64_t* ids) const override;
  int64_t cardinality() const override;

  /// The id of one input value (NaN: missing, id 0); false when the value is not a time,
  /// with what was expected and found.
  bool IdOf(double value, int64_t* id, std::string* problem) const;

 private:
  // From the options, which are set after construction (and may be loaded from a state).
  Part part() const;
  data::TimeFormat format() const;
  bool IdOf(double value, Part part, data::TimeFormat format, int64_t* id,
            std::string* problem) const;
};

/// Checks how `chain` uses datetime_parts against the schema: first in its chain, reading a
/// scalar int64, float64 or timestamp field. Error(kConfig) names the chain and the field's type.
void CheckDatetimePartsChain(const data::TableSchema& schema, const ColumnChain& chain);

/// The times a batch must hold before the ETL encodes it: each datetime_parts chain's input,
/// and the time split's field (whose times it collects, record by record).
class TimeValueCheck {
 public:
  /// `pipeline`'s chains must outlive the check. A time split's field must be a field of
  /// `schema` holding integers or timestamps (else Error(kConfig)).
  TimeValueCheck(const data::TableSchema& schema, const Pipeline& pipeline,
                 const data::SplitRule& split);

  /// Whether there is anything to check.
  bool empty() const { return chains_.empty() && split_field_ < 0; }

  /// Checks every row of `batch` (called in file order). A row whose time is bad (or, for a
  /// time split, missing) throws Error(kInvalidInput) naming `source`, the record (and its
  /// line when `first_line` > 0: the line of the batch's first record, when every record of
  /// the batch is one line), the operator and the column — or, under kSkip, leaves the batch
  /// and becomes one of its rejects. Appends each record's split time to `times` (kNoTime for
  /// rejected ones) when the split is by time.
  void Apply(data::TableBatch* batch, data::OnError on_error, const std::string& source,
             int64_t first_line, std::vector<int64_t>* times) const;

 private:
  struct CheckedChain {
    int field = -1;
    std::string input;   // the field it reads
    std::string column;  // the field the chain writes
    const DatetimeParts* op = nullptr;
  };
  std::vector<CheckedChain> chains_;
  int split_field_ = -1;
  data::TimeFormat split_format_ = data::TimeFormat::kEpoch;
  std::string split_rule_;
};

/// Keeps the rows of `batch` with keep[r] set (drops the others' values from every column).
void KeepRows(data::TableBatch* batch, const std::vector<char>& keep);

}  // namespace aiok::etl
