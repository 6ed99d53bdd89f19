#include "aiok/data/schema_inference.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"
#include "aiok/core/suggest.h"
#include "aiok/data/criteo_layout.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/duckdb_client.h"
#include "aiok/data/text_table_reader.h"
#include "aiok/data/value_parsing.h"

namespace aiok::data {
namespace {

constexpr const char* kLabelNames[] = {"label", "y", "target", "click", "clicked", "is_click"};

std::string Lower(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Fields per line of the first lines for a candidate separator, outside quotes.
std::vector<int64_t> FieldCounts(const std::string& text, char separator, size_t max_lines) {
  std::vector<int64_t> counts;
  int64_t fields = 1;
  bool in_quotes = false;
  for (char c : text) {
    if (c == '"') {
      in_quotes = !in_quotes;
    } else if (!in_quotes && c == separator) {
      ++fields;
    } else if (!in_quotes && c == '\n') {
      counts.push_back(fields);
      fields = 1;
      if (counts.size() == max_lines)
        break;
    }
  }
  return counts;
}

// The separator that splits the first lines into the same number (> 1) of fields most
// consistently; TAB, comma, semicolon and pipe are tried.
char DetectSeparator(const std::string& sample) {
  char best = ',';
  double best_score = -1;
  for (char candidate : {'\t', ',', ';', '|'}) {
    const std::vector<int64_t> counts = FieldCounts(sample, candidate, 50);
    if (counts.empty())
      continue;
    const int64_t first = counts[0];
    if (first < 2)
      continue;
    const auto same = std::count(counts.begin(), counts.end(), first);
    const double score = static_cast<double>(same) / static_cast<double>(counts.size()) +
                         1e-3 * static_cast<double>(first);
    if (score > best_score) {
      best_score = score;
      best = candidate;
    }
  }
  return best;
}

// What the sampled values of one field allow.
struct ValueEvidence {
  int64_t present = 0;
  bool int64 = true, uint64 = true, float64 = true, timestamp = true, hex = true;
  bool hex_letter = false;     // some value has a-f (else decimal digits are decimals)
  bool above_int64 = false;    // some value needs uint64
  int64_t with_list_separator = 0;
  // A text to look for among the values (the first record's, which may be a header).
  std::string probe;
  bool probe_seen = false;

  void See(std::string_view text) {
    ++present;
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;
    int64_t t = 0;
    if (int64 && ParseInt64(text, &i) != ParseStatus::kOk)
      int64 = false;
    if (uint64) {
      if (ParseUInt64(text, &u) != ParseStatus::kOk)
        uint64 = false;
      else if (u > static_cast<uint64_t>(INT64_MAX))
        above_int64 = true;
    }
    if (float64 && ParseFloat64(text, &d) != ParseStatus::kOk)
      float64 = false;
    // Only dates count as timestamps here: plain integers are numbers.
    if (timestamp && (text.size() < 10 || text[4] != '-' || ParseTimestamp(text, &t) != ParseStatus::kOk))
      timestamp = false;
    if (hex) {
      if ((text.size() != 8 && text.size() != 16) || ParseHex64(text, &u) != ParseStatus::kOk)
        hex = false;
      else if (std::any_of(text.begin(), text.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
        hex_letter = true;
    }
    probe_seen = probe_seen || text == probe;
  }

  FieldType Type() const {
    if (present == 0)
      return {ValueType::kString, false, false};
    if (int64)
      return {ValueType::kInt64, false, false};
    if (uint64 && above_int64)
      return {ValueType::kUInt64, false, false};
    if (float64)
      return {ValueType::kFloat64, false, false};
    if (timestamp)
      return {ValueType::kTimestamp, false, false};
    if (hex && hex_letter)
      return {ValueType::kUInt64, false, true};
    return {ValueType::kString, false, false};
  }
};

// "id", "user_id" or "userId": an integer that names something rather than counts it.
bool LooksLikeId(const std::string& name) {
  const std::string lower = Lower(name);
  if (lower == "id")
    return true;
  if (lower.size() > 3 && lower.compare(lower.size() - 3, 3, "_id") == 0)
    return true;
  return name.size() > 2 && name.compare(name.size() - 2, 2, "Id") == 0;
}

FieldRole RoleFor(const Field& field) {
  if (field.type.list)
    return FieldRole::kMultiCategorical;
  switch (field.type.value) {
    case ValueType::kTimestamp:
      return FieldRole::kTimestamp;
    case ValueType::kString:
    case ValueType::kUInt64:
      return FieldRole::kCategorical;
    case ValueType::kInt64:
      return LooksLikeId(field.name) ? FieldRole::kCategorical : FieldRole::kDense;
    case ValueType::kFloat64:
      return FieldRole::kDense;
  }
  return FieldRole::kIgnored;
}

// Marks the label: the named field, or a field with a conventional name.
void ChooseLabel(TableSchema* schema, const std::string& label, const std::string& path) {
  if (!label.empty()) {
    const int index = schema->Find(label);
    if (index < 0) {
      Throw(ErrorKind::kConfig, "--label {}: {} has no such field{} (fields: {})", label, path,
            DidYouMean(label, schema->Names()), fmt::join(schema->Names(), ", "));
    }
    Field& field = schema->fields[static_cast<size_t>(index)];
    AIOK_CHECK(!field.type.list, ErrorKind::kConfig, "--label {}: a list field cannot be a label",
               label);
    field.role = FieldRole::kLabel;
    return;
  }
  for (const char* name : kLabelNames) {
    for (Field& field : schema->fields) {
      if (Lower(field.name) == name && !field.type.list) {
        field.role = FieldRole::kLabel;
        return;
      }
    }
  }
}

bool IsCriteoShape(const std::vector<ValueEvidence>& evidence, bool with_label) {
  const size_t offset = with_label ? 1 : 0;
  if (evidence.size() != offset + kCriteoDense + kCriteoCategorical)
    return false;
  if (with_label && !evidence[0].int64)
    return false;
  for (int d = 0; d < kCriteoDense; ++d) {
    if (!evidence[offset + d].int64)
      return false;
  }
  for (int c = 0; c < kCriteoCategorical; ++c) {
    const ValueEvidence& e = evidence[offset + kCriteoDense + c];
    if (e.present > 0 && !e.hex)
      return false;
  }
  return true;
}

TableSchema InferText(const std::string& path, const InferOptions& options) {
  const ReadOnlyFile file(path);
  AIOK_CHECK(file.size() > 0, ErrorKind::kInvalidInput, "{}: file is empty: nothing to infer from",
             path);
  std::string sample(std::min<size_t>(file.size(), static_cast<size_t>(options.sample_bytes)), '\0');
  file.Read(0, sample.size(), sample.data());
  if (sample.compare(0, 3, "\xEF\xBB\xBF") == 0)
    sample.erase(0, 3);
  // Keep whole lines: a sample cut mid-record would look ragged.
  if (sample.size() < file.size()) {
    const size_t last = sample.rfind('\n');
    if (last != std::string::npos)
      sample.resize(last + 1);
  }
  TableSchema schema;
  schema.format.separator = DetectSeparator(sample);
  std::vector<std::string> first = SplitHeader(sample, schema.format);
  // Read every sampled record, the first included, as strings.
  TableSchema as_text;
  as_text.format = schema.format;
  as_text.format.header = false;
  as_text.format.null_tokens = {};
  for (size_t i = 0; i < first.size(); ++i)
    as_text.fields.push_back({fmt::format("field{}", i + 1), FieldRole::kIgnored, {}});
  TableBatch batch;
  ParseTextTable(sample, as_text, OnError::kSkip, path, &batch);
  AIOK_CHECK(batch.rows > 0, ErrorKind::kInvalidInput,
             "{}: no line of the first {} bytes splits into the {} fields of the first line with "
             "separator '{}'",
             path, sample.size(), first.size(), schema.format.separator == '\t' ? "\\t" : std::string(1, schema.format.separator));

  // Evidence per field, with and without the first record (it may be a header).
  const size_t fields = first.size();
  std::vector<ValueEvidence> all(fields), rest(fields);
  std::vector<ValueEvidence> elements(fields);  // values split by the list separator
  for (size_t f = 0; f < fields; ++f) {
    const ColumnValues& column = batch.columns[f];
    rest[f].probe = first[f];
    for (int64_t r = 1; r < batch.rows; ++r) {
      const std::string_view text = column.string(static_cast<size_t>(r));
      if (schema.format.IsNull(text.data(), text.size()))
        continue;
      rest[f].See(text);
      if (text.find(schema.format.list_separator) != std::string_view::npos)
        ++rest[f].with_list_separator;
    }
    all[f] = rest[f];
    const std::string_view head = column.string(0);
    if (!schema.format.IsNull(head.data(), head.size()))
      all[f].See(head);
    if (rest[f].with_list_separator == 0) {
      elements[f] = rest[f];  // no value is a list of more than one element
      continue;
    }
    for (int64_t r = 1; r < batch.rows; ++r) {
      const std::string_view text = column.string(static_cast<size_t>(r));
      if (schema.format.IsNull(text.data(), text.size()))
        continue;
      size_t begin = 0;
      for (;;) {
        const size_t end = std::min(text.find(schema.format.list_separator, begin), text.size());
        if (end > begin)
          elements[f].See(text.substr(begin, end - begin));
        if (end == text.size())
          break;
        begin = end + 1;
      }
    }
  }
  // A header: the first record's fields are all non-empty texts, none of which fits the type
  // the other records give its field (or every field is text and the names are distinct).
  bool header = batch.rows > 1;
  for (size_t f = 0; f < fields && header; ++f) {
    const std::string& name = first[f];
    ValueEvidence one;
    if (!name.empty())
      one.See(name);
    const FieldType type = rest[f].Type();
    if (name.empty() || (type.value != ValueType::kString && one.Type() == type))
      header = false;
  }
  if (header && std::all_of(rest.begin(), rest.end(), [](const ValueEvidence& e) { return e.Type().value == ValueType::kString; })) {
    // All text: a header only if its names are not among the values below them.
    for (size_t f = 0; f < fields && header; ++f) {
      if (rest[f].probe_seen)
        header = false;
    }
  }
  schema.format.header = header;
  const std::vector<ValueEvidence>& evidence = header ? rest : all;
  const bool criteo = !header && schema.format.separator == '\t' &&
                      (IsCriteoShape(evidence, true) || IsCriteoShape(evidence, false));
  if (criteo)
    return CriteoTableSchema(fields == static_cast<size_t>(kCriteoFields));
  for (size_t f = 0; f < fields; ++f) {
    Field field;
    field.name = header ? first[f] : fmt::format("column{}", f + 1);
    field.type = evidence[f].Type();
    // A text field whose values often hold the list separator is a list of its elements.
    if (header && field.type.value == ValueType::kString &&
        rest[f].with_list_separator * 5 >= rest[f].present && rest[f].with_list_separator > 0) {
      field.type = elements[f].Type();
      field.type.list = true;
    }
    field.role = RoleFor(field);
    schema.fields.push_back(std::move(field));
  }
  if (!header) {
    schema.format.trim = true;
  }
  ChooseLabel(&schema, options.label, path);
  schema.Validate(path);
  return schema;
}

// A DuckDB type name as a field type; nullopt for types aiok does not read.
std::optional<FieldType> FromDuckType(std::string type) {
  FieldType out;
  if (type.size() > 2 && type.compare(type.size() - 2, 2, "[]") == 0) {
    out.list = true;
    type.resize(type.size() - 2);
  }
  static const std::set<std::string> kInts = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT",
                                              "UTINYINT", "USMALLINT", "UINTEGER", "BOOLEAN"};
  if (kInts.count(type)) {
    out.value = ValueType::kInt64;
  } else if (type == "UBIGINT") {
    out.value = ValueType::kUInt64;
  } else if (type == "FLOAT" || type == "DOUBLE" || type.compare(0, 7, "DECIMAL") == 0) {
    out.value = ValueType::kFloat64;
  } else if (type == "VARCHAR") {
    out.value = ValueType::kString;
  } else if (type.compare(0, 9, "TIMESTAMP") == 0 || type == "DATE") {
    out.value = ValueType::kTimestamp;
  } else {
    return std::nullopt;
  }
  return out;
}

TableSchema InferParquet(const std::string& path, const InferOptions& options) {
  DuckDb db(options.threads);
  DuckResult result = db.Query("DESCRIBE SELECT * FROM read_parquet(" + SqlString(path) + ")",
                               "reading the schema of " + path);
  TableSchema schema;
  const idx_t rows = duckdb_row_count(result.get());
  for (idx_t r = 0; r < rows; ++r) {
    char* name = duckdb_value_varchar(result.get(), 0, r);
    char* type = duckdb_value_varchar(result.get(), 1, r);
    Field field;
    field.name = name;
    const std::string type_name = type;
    duckdb_free(name);
    duckdb_free(type);
    if (const auto parsed = FromDuckType(type_name)) {
      field.type = *parsed;
      field.role = RoleFor(field);
    } else {
      field.role = FieldRole::kIgnored;  // a type aiok does not read, kept visible in the schema
    }
    schema.fields.push_back(std::move(field));
  }
  ChooseLabel(&schema, options.label, path);
  schema.Validate(path);
  return schema;
}

}  // namespace

TableSchema InferSchema(const std::string& path, const InferOptions& options) {
  if (IsParquetFile(path))
    return InferParquet(path, options);
  return InferText(path, options);
}

}  // namespace aiok::data
