#include "aiok/serving/request_rows.h"

#include <array>
#include <cmath>
#include <string>

#include "aiok/core/error.h"
#include "aiok/data/field_parsing.h"

namespace aiok::serving {
namespace {

struct ParsedRow {
  std::array<int64_t, data::kCriteoDense> dense{};
  std::array<int64_t, data::kCriteoCategorical> category{};
};

ParsedRow ParseTsvRow(const std::string& line, size_t row) {
  AIOK_CHECK(line.find('\n') == std::string::npos, ErrorKind::kInvalidInput,
             "row {}: a TSV row must be one line (found a newline)", row);
  data::CriteoBatch parsed;
  data::ParseCriteoText(line + "\n", /*has_label=*/false, data::OnError::kSkip, "request",
                        &parsed);
  if (!parsed.rejects.empty())
    Throw(ErrorKind::kInvalidInput, "row {}: {}", row, parsed.rejects[0].reason);
  ParsedRow out;
  for (int d = 0; d < data::kCriteoDense; ++d)
    out.dense[d] = parsed.dense[d][0];
  for (int c = 0; c < data::kCriteoCategorical; ++c)
    out.category[c] = parsed.category[c][0];
  return out;
}

int64_t DenseField(const nlohmann::json& value, size_t row, const std::string& name) {
  if (value.is_null())
    return data::kMissingDense;
  if (value.is_number_integer())
    return value.get<int64_t>();
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e18)
      return static_cast<int64_t>(v);
  }
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    int64_t parsed = 0;
    if (text.empty())
      return data::kMissingDense;
    if (data::ParseInt(text, &parsed))
      return parsed;
  }
  Throw(ErrorKind::kInvalidInput, "row {}, field {}: expected an integer or null, found {}", row,
        name, value.dump());
}

int64_t CategoricalField(const nlohmann::json& value, size_t row, const std::string& name) {
  if (value.is_null())
    return data::kMissingCategory;
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    int64_t parsed = 0;
    if (text.empty())
      return data::kMissingCategory;
    if (data::ParseHex32(text, &parsed))
      return parsed;
  }
  Throw(ErrorKind::kInvalidInput,
        "row {}, field {}: expected a string of up to 8 hex digits or null, found {}", row, name,
        value.dump());
}

// Field name -> (is dense, index).
std::pair<bool, int> FieldIndex(const std::string& name) {
  for (int d = 0; d < data::kCriteoDense; ++d) {
    if (name == data::CriteoDenseName(d))
      return {true, d};
  }
  for (int c = 0; c < data::kCriteoCategorical; ++c) {
    if (name == data::CriteoCategoricalName(c))
      return {false, c};
  }
  return {false, -1};
}

ParsedRow ParseObjectRow(const nlohmann::json& object, size_t row) {
  ParsedRow out;
  out.dense.fill(data::kMissingDense);
  out.category.fill(data::kMissingCategory);
  for (const auto& [name, value] : object.items()) {
    const auto [dense, index] = FieldIndex(name);
    AIOK_CHECK(index >= 0, ErrorKind::kInvalidInput,
               "row {}: unknown field '{}' (expected I1..I{}, C1..C{})", row, name,
               data::kCriteoDense, data::kCriteoCategorical);
    if (dense) {
      out.dense[index] = DenseField(value, row, name);
    } else {
      out.category[index] = CategoricalField(value, row, name);
    }
  }
  return out;
}

}  // namespace

data::CriteoBatch ParseRequestRows(const nlohmann::json& request, int64_t max_rows) {
  AIOK_CHECK(request.is_object() && request.contains("rows") && request.at("rows").is_array(),
             ErrorKind::kInvalidInput, "expected a JSON object with an array \"rows\"");
  const nlohmann::json& rows = request.at("rows");
  AIOK_CHECK(static_cast<int64_t>(rows.size()) <= max_rows, ErrorKind::kTooLarge,
             "{} rows in one request; the limit is {} (--max-rows)", rows.size(), max_rows);
  data::CriteoBatch batch;
  batch.rows = static_cast<int64_t>(rows.size());
  batch.lines = batch.rows;
  for (auto& column : batch.dense)
    column.resize(rows.size());
  for (auto& column : batch.category)
    column.resize(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const nlohmann::json& row = rows[r];
    ParsedRow parsed;
    if (row.is_string()) {
      parsed = ParseTsvRow(row.get<std::string>(), r);
    } else if (row.is_object()) {
      parsed = ParseObjectRow(row, r);
    } else {
      Throw(ErrorKind::kInvalidInput,
            "row {}: expected a TSV line (string) or an object of named fields, found {}", r,
            row.type_name());
    }
    for (int d = 0; d < data::kCriteoDense; ++d)
      batch.dense[d][r] = parsed.dense[d];
    for (int c = 0; c < data::kCriteoCategorical; ++c)
      batch.category[c][r] = parsed.category[c];
  }
  return batch;
}

}  // namespace aiok::serving
