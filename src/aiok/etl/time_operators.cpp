#include "aiok/etl/time_operators.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "aiok/core/error.h"
#include "aiok/etl/field_binding.h"

namespace aiok::etl {

void DatetimeParts::CheckOptions(const std::string& where) const {
  AIOK_CHECK(options_.first_year <= options_.last_year, ErrorKind::kConfig,
             "{}: first_year {} is after last_year {}", where, options_.first_year,
             options_.last_year);
}

DatetimeParts::Part DatetimeParts::part() const {
  const std::string& p = options_.part;
  return p == "weekday" ? Part::kWeekday
         : p == "day"   ? Part::kDay
         : p == "month" ? Part::kMonth
         : p == "year"  ? Part::kYear
                        : Part::kHour;
}

data::TimeFormat DatetimeParts::format() const {
  return data::ParseTimeFormat(options_.format, name());
}

int64_t DatetimeParts::cardinality() const {
  switch (part()) {
    case Part::kHour:
      return 1 + 24;
    case Part::kWeekday:
      return 1 + 7;
    case Part::kDay:
      return 1 + 31;
    case Part::kMonth:
      return 1 + 12;
    case Part::kYear:
      break;
  }
  return 2 + options_.last_year - options_.first_year;
}

bool DatetimeParts::IdOf(double value, int64_t* id, std::string* problem) const {
  return IdOf(value, part(), format(), id, problem);
}

bool DatetimeParts::IdOf(double number, Part part, data::TimeFormat format, int64_t* id,
                         std::string* problem) const {
  if (std::isnan(number)) {
    *id = 0;
    return true;
  }
  // Whole numbers only, within +-2^53 (where doubles hold every integer: epoch seconds for
  // hundreds of millions of years).
  constexpr double kExact = 9007199254740992.0;
  if (!(std::fabs(number) <= kExact) || number != std::floor(number)) {
    *problem =
        fmt::format("expected a whole number of {}, found {}",
                    format == data::TimeFormat::kYymmddhh ? "YYMMDDHH" : "epoch seconds", number);
    return false;
  }
  const auto value = static_cast<int64_t>(number);
  int64_t seconds = 0;
  std::string wrong;
  if (!data::TimeFromInteger(value, format, &seconds, &wrong)) {
    *problem =
        fmt::format("expected a {} time, found {} ({})",
                    format == data::TimeFormat::kYymmddhh ? "YYMMDDHH" : "epoch", value, wrong);
    return false;
  }
  const data::CivilTime t = data::CivilFromSeconds(seconds);
  switch (part) {
    case Part::kHour:
      *id = 1 + t.hour;
      return true;
    case Part::kWeekday:
      *id = t.weekday;
      return true;
    case Part::kDay:
      *id = t.day;
      return true;
    case Part::kMonth:
      *id = t.month;
      return true;
    case Part::kYear:
      break;
  }
  if (t.year < options_.first_year || t.year > options_.last_year) {
    *problem = fmt::format(
        "expected a time in the years {} to {} (first_year, last_year), "
        "found {} (year {})",
        options_.first_year, options_.last_year, value, t.year);
    return false;
  }
  *id = 1 + t.year - options_.first_year;
  return true;
}

void DatetimeParts::TransformDenseToIds(const double* values, size_t n, int64_t* ids) const {
  const Part p = part();
  const data::TimeFormat f = format();
  std::string problem;
  for (size_t i = 0; i < n; ++i) {
    AIOK_CHECK(IdOf(values[i], p, f, &ids[i], &problem), ErrorKind::kInvalidInput,
               "datetime_parts ({}): {}", options_.part, problem);
  }
}

void CheckDatetimePartsChain(const data::TableSchema& schema, const ColumnChain& chain) {
  for (size_t i = 0; i < chain.ops.size(); ++i) {
    if (dynamic_cast<const DatetimeParts*>(chain.ops[i].get()) == nullptr)
      continue;
    AIOK_CHECK(i == 0, ErrorKind::kConfig,
               "pipeline: {}: datetime_parts reads raw times and must be the first operator of "
               "its chain (it follows {})",
               chain.column, chain.ops[i - 1]->name());
    AIOK_ASSERT(chain.inputs.size() == 1);  // several inputs start with a cross
    const data::Field& field = schema.fields[static_cast<size_t>(schema.Find(chain.inputs[0]))];
    const data::ValueType type = field.type.value;
    AIOK_CHECK(
        !field.type.list && (type == data::ValueType::kInt64 || type == data::ValueType::kFloat64 ||
                             type == data::ValueType::kTimestamp),
        ErrorKind::kConfig,
        "pipeline: {}: datetime_parts reads whole numbers (epoch seconds or YYMMDDHH: a "
        "dense int64 or float64 field) or timestamps, but the field {} has type {}",
        chain.column, field.name, field.type.Name());
  }
}

TimeValueCheck::TimeValueCheck(const data::TableSchema& schema, const Pipeline& pipeline,
                               const data::SplitRule& split)
    : split_rule_(split.text()) {
  for (const ColumnChain* chain : pipeline.chains()) {
    if (chain->ops.empty())
      continue;
    const auto* op = dynamic_cast<const DatetimeParts*>(chain->ops[0].get());
    if (op != nullptr)
      chains_.push_back(
          CheckedChain{schema.Find(chain->inputs[0]), chain->inputs[0], chain->column, op});
  }
  if (!split.by_time())
    return;
  split_field_ = schema.Find(split.time_field());
  AIOK_CHECK(split_field_ >= 0, ErrorKind::kConfig,
             "split rule '{}': the input has no field '{}' (fields: {})", split_rule_,
             split.time_field(), fmt::join(schema.Names(), ", "));
  const data::FieldType& type = schema.fields[static_cast<size_t>(split_field_)].type;
  AIOK_CHECK(
      !type.list && !type.hex &&
          (type.value == data::ValueType::kInt64 || type.value == data::ValueType::kTimestamp),
      ErrorKind::kConfig,
      "split rule '{}': the field {} has type {}; a time split reads integers (epoch "
      "seconds or YYMMDDHH) or timestamps",
      split_rule_, split.time_field(), type.Name());
  split_format_ = split.time_format();
}

void TimeValueCheck::Apply(data::TableBatch* batch, data::OnError on_error,
                           const std::string& source, int64_t first_line,
                           std::vector<int64_t>* times) const {
  const std::vector<int64_t> records = batch->RowRecords();
  const auto rows = static_cast<size_t>(batch->rows);
  std::vector<char> keep(rows, 1);
  std::vector<data::RejectedRecord> rejects;
  std::vector<int64_t> row_times(rows, data::SplitRule::kNoTime);
  auto reject = [&](size_t r, const std::string& reason) {
    const int64_t record = records[r] + 1;
    const int64_t line = first_line > 0 ? first_line + (record - batch->first_record) : 0;
    AIOK_CHECK(on_error == data::OnError::kSkip, ErrorKind::kInvalidInput, "{}: record {}{}: {}",
               source, record, line > 0 ? fmt::format(" (line {})", line) : "", reason);
    keep[r] = 0;
    rejects.push_back(data::RejectedRecord{record, line, reason});
  };
  std::string problem;
  for (size_t r = 0; r < rows; ++r) {
    bool good = true;
    for (const CheckedChain& chain : chains_) {
      double value = 0;
      int64_t id = 0;
      DenseValues(batch->columns[static_cast<size_t>(chain.field)], r, r + 1, &value);
      if (!chain.op->IdOf(value, &id, &problem)) {
        // The field it writes is named too when it is another (a derived part).
        reject(r, fmt::format("datetime_parts on column {}{}: {}", chain.input,
                              chain.column == chain.input ? "" : " (for " + chain.column + ")",
                              problem));
        good = false;
        break;
      }
    }
    if (!good || split_field_ < 0)
      continue;
    const data::ColumnValues& column = batch->columns[static_cast<size_t>(split_field_)];
    std::string wrong;
    if (!column.valid[r]) {
      reject(r, fmt::format("the time split ({}) needs a time in every row; this row has none",
                            split_rule_));
    } else if (!data::TimeFromInteger(column.ints[r], split_format_, &row_times[r], &wrong)) {
      reject(r, fmt::format("the time split ({}): expected a {} time, found {} ({})", split_rule_,
                            data::TimeFormatName(split_format_), column.ints[r], wrong));
    }
  }
  if (times != nullptr && split_field_ >= 0) {
    // Every record of the batch, in order: rejected ones (by the reader or here) have none.
    size_t r = 0;
    for (int64_t record = batch->first_record - 1;
         record < batch->first_record - 1 + batch->records; ++record) {
      const bool row = r < rows && records[r] == record;
      times->push_back(row && keep[r] ? row_times[r] : data::SplitRule::kNoTime);
      r += row ? 1 : 0;
    }
  }
  if (rejects.empty())
    return;
  KeepRows(batch, keep);
  // The batch's rejects stay in record order (RowRecords walks them so).
  std::vector<data::RejectedRecord> merged;
  std::merge(batch->rejects.begin(), batch->rejects.end(), rejects.begin(), rejects.end(),
             std::back_inserter(merged),
             [](const auto& a, const auto& b) { return a.record < b.record; });
  batch->rejects = std::move(merged);
}

void KeepRows(data::TableBatch* batch, const std::vector<char>& keep) {
  const size_t rows = keep.size();
  AIOK_ASSERT(static_cast<int64_t>(rows) == batch->rows);
  for (data::ColumnValues& c : batch->columns) {
    data::ColumnValues out;
    out.type = c.type;
    if (c.type.list)
      out.list_offsets.push_back(0);
    for (size_t r = 0; r < rows; ++r) {
      if (!keep[r])
        continue;
      out.valid.push_back(c.valid[r]);
      // A scalar's value is slot r; a list's are its elements.
      const auto begin = static_cast<size_t>(c.type.list ? c.list_offsets[r] : r);
      const auto end = static_cast<size_t>(c.type.list ? c.list_offsets[r + 1] : r + 1);
      for (size_t v = begin; v < end; ++v) {
        if (v < c.ints.size())
          out.ints.push_back(c.ints[v]);
        if (v < c.uints.size())
          out.uints.push_back(c.uints[v]);
        if (v < c.reals.size())
          out.reals.push_back(c.reals[v]);
        if (v < c.ends.size()) {
          const std::string_view text = c.string(v);
          out.bytes.append(text.data(), text.size());
          out.ends.push_back(static_cast<uint32_t>(out.bytes.size()));
        }
      }
      if (c.type.list)
        out.list_offsets.push_back(static_cast<int64_t>(out.ints.size() + out.uints.size() +
                                                        out.reals.size() + out.ends.size()));
    }
    c = std::move(out);
  }
  batch->rows = std::count(keep.begin(), keep.end(), 1);
}

}  // namespace aiok::etl
