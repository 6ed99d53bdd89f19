#include "aiok/serving/serving_pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"
#include "aiok/core/suggest.h"
#include "aiok/data/text_table_reader.h"

namespace aiok::serving {
namespace {

bool IsTarget(const data::Field& field) {
  return field.role == data::FieldRole::kLabel || field.role == data::FieldRole::kWeight;
}

// A JSON scalar as the text the readers parse ("" for null).
std::string JsonText(const nlohmann::json& value) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_null())
    return "";
  if (value.is_number_float())
    return fmt::format("{}", value.get<double>());
  if (value.is_boolean())
    return value.get<bool>() ? "1" : "0";
  return value.dump();  // integers, unsigned included, print exactly
}

// Appends the one row of `from` to `to`.
void AppendOnlyRow(const data::ColumnValues& from, data::ColumnValues* to) {
  to->valid.push_back(from.valid[0]);
  to->ints.insert(to->ints.end(), from.ints.begin(), from.ints.end());
  to->uints.insert(to->uints.end(), from.uints.begin(), from.uints.end());
  to->reals.insert(to->reals.end(), from.reals.begin(), from.reals.end());
  const auto base = static_cast<uint32_t>(to->bytes.size());
  to->bytes += from.bytes;
  for (uint32_t end : from.ends)
    to->ends.push_back(base + end);
  if (to->type.list)
    to->list_offsets.push_back(static_cast<int64_t>(to->values()));
}

// Where the record that starts at `start` of `text` ends: its '\n' outside quotes (the
// readers' quoting: a quote opens only at a field's start, after spaces when trimming, and two
// quotes inside are one), or the end of `text`.
size_t RecordEnd(std::string_view text, size_t start, const data::TextFormat& format) {
  bool in_quotes = false;
  bool at_field_start = true;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == format.quote) {
        if (i + 1 < text.size() && text[i + 1] == format.quote)
          ++i;
        else
          in_quotes = false;
      }
      continue;
    }
    if (c == '\n')
      return i;
    if (at_field_start && format.quote != '\0' && c == format.quote) {
      in_quotes = true;
      at_field_start = false;
    } else if (c == format.separator) {
      at_field_start = true;
    } else if (!(format.trim && (c == ' ' || c == '\t'))) {
      at_field_start = false;  // spaces before an opening quote are skipped
    }
  }
  return text.size();
}

}  // namespace

data::TableSchema RecordedInputSchema(const nlohmann::json& dataset_schema,
                                      const std::string& source) {
  const nlohmann::json& input = dataset_schema.value("input_schema", nlohmann::json());
  if (!input.is_null())
    return data::TableSchema::FromJson(input, source + ": input_schema");
  return data::CriteoTableSchema(true);
}

ServingPipeline::ServingPipeline(const Bundle& bundle)
    : schema_(RecordedInputSchema(bundle.schema, bundle.dir + "/schema.json")),
      pipeline_(etl::Pipeline::LoadState(bundle.pipeline_state, etl::DenseFieldNames(schema_),
                                         etl::CategoricalFieldNames(schema_),
                                         bundle.dir + "/pipeline.json")) {
  etl::LabelMapping label;
  const nlohmann::json& mapping = bundle.schema.value("label_mapping", nlohmann::json());
  if (!mapping.is_null())
    label = etl::LabelMapping::FromJson(mapping, bundle.dir + "/schema.json");
  transformer_ = std::make_unique<etl::TableTransformer>(schema_, pipeline_, label);
  layout_ = transformer_->Layout();
  // The prepare stage's joins and statistics as lookups, its expressions through DuckDB
  // (etl/prepare_serving.h).
  const std::string lookups = bundle.dir + "/prepare";
  auto prepare = std::make_unique<etl::PrepareServingSteps>(
      pipeline_.spec().prepare, std::filesystem::exists(lookups) ? lookups : "", schema_,
      bundle.dir + "/pipeline.json");
  if (!prepare->empty())
    prepare_ = std::move(prepare);
}

data::TableSchema ServingPipeline::RowSchema(bool with_label) const {
  data::TableSchema rows = schema_;
  rows.fields.clear();
  for (data::Field field : schema_.fields) {
    if (prepare_ && prepare_->fields().count(field.name))
      continue;
    if (IsTarget(field)) {
      if (!with_label)
        continue;
      field.role = data::FieldRole::kIgnored;
    }
    rows.fields.push_back(std::move(field));
  }
  return rows;
}

bool ServingPipeline::FileHasLabel(const std::string& path, data::OnError on_error) const {
  const ReadOnlyFile file(path);
  std::string head(std::min<size_t>(file.size(), 1 << 20), '\0');
  file.Read(0, head.size(), head.data());
  AIOK_CHECK(!head.empty(), ErrorKind::kInvalidInput, "{}: file is empty: no rows to score", path);
  if (head.compare(0, 3, "\xEF\xBB\xBF") == 0)
    head.erase(0, 3);
  const data::TableSchema with = RowSchema(true);
  const data::TableSchema without = RowSchema(false);
  if (schema_.format.header) {
    const std::vector<std::string> first = data::SplitHeader(head, schema_.format);
    if (first == with.Names())
      return true;
    if (first == without.Names())
      return false;
    ThrowAt(TextLocation{path, 1, 0},
            "the header does not name the model's input fields: expected {} (the label {}), "
            "found {}",
            fmt::join(without.Names(), ","), "may come too", fmt::join(first, ","));
  }
  // The first record decides; under kSkip a record with neither count is a bad line like any
  // other, so the first one that has either decides (none in the first MiB: no label).
  int64_t next_line = 1;
  for (size_t start = 0; start < head.size();) {
    const size_t end = RecordEnd(head, start, schema_.format);
    const std::string_view record = std::string_view(head).substr(start, end - start);
    const int64_t line = next_line;
    next_line += 1 + std::count(record.begin(), record.end(), '\n');  // quoted line ends
    start = end + 1;
    if (record.find_first_not_of('\r') == std::string_view::npos)
      continue;  // blank lines carry no record
    const size_t fields = data::SplitHeader(record, schema_.format).size();
    if (fields == with.fields.size())
      return true;
    if (fields == without.fields.size())
      return false;
    if (on_error == data::OnError::kFail) {
      ThrowAt(TextLocation{path, line, 0}, "expected {} fields ({}) or {} with the label, found {}",
              without.fields.size(), fmt::join(without.Names(), ", "), with.fields.size(), fields);
    }
  }
  return false;
}

data::FeatureBatch ServingPipeline::Transform(data::TableBatch&& batch,
                                              const data::TableSchema& read_schema) const {
  // The transformer indexes columns by the input schema: put each read column at its place
  // and leave the label's (and weight's) empty.
  data::TableBatch full;
  full.rows = batch.rows;
  full.first_row = batch.first_row;
  full.columns.resize(schema_.fields.size());
  for (size_t f = 0; f < read_schema.fields.size(); ++f) {
    const int index = schema_.Find(read_schema.fields[f].name);
    AIOK_ASSERT(index >= 0);
    full.columns[static_cast<size_t>(index)] = std::move(batch.columns[f]);
  }
  if (prepare_)
    prepare_->Apply(&full);
  return transformer_->Transform(full, /*with_labels=*/false);
}

data::TableBatch ServingPipeline::ParseJsonRows(const nlohmann::json& rows) const {
  const data::TableSchema row_schema = RowSchema(false);
  data::TableBatch batch;
  batch.columns.resize(schema_.fields.size());
  for (size_t f = 0; f < schema_.fields.size(); ++f) {
    batch.columns[f].type = schema_.fields[f].type;
    if (schema_.fields[f].type.list)
      batch.columns[f].list_offsets.push_back(0);
  }
  const std::vector<std::string> names = row_schema.Names();
  for (size_t r = 0; r < rows.size(); ++r) {
    const nlohmann::json& row = rows[r];
    if (row.is_string()) {
      // A text line in the input's format, without the label.
      const std::string line = row.get<std::string>();
      AIOK_CHECK(line.find('\n') == std::string::npos, ErrorKind::kInvalidInput,
                 "row {}: a text row must be one line (found a newline)", r);
      data::TableBatch parsed;
      data::ParseTextTable(line, row_schema, data::OnError::kSkip, "request", &parsed);
      if (!parsed.rejects.empty())
        Throw(ErrorKind::kInvalidInput, "row {}: {}", r, parsed.rejects[0].reason);
      AIOK_CHECK(parsed.rows == 1, ErrorKind::kInvalidInput, "row {}: expected one text row", r);
      for (size_t f = 0; f < row_schema.fields.size(); ++f) {
        const int index = schema_.Find(row_schema.fields[f].name);
        AppendOnlyRow(parsed.columns[f], &batch.columns[static_cast<size_t>(index)]);
      }
      ++batch.rows;
      continue;
    }
    AIOK_CHECK(row.is_object(), ErrorKind::kInvalidInput,
               "row {}: expected an object of named fields or a text line, found {}", r,
               row.type_name());
    for (const auto& [key, value] : row.items()) {
      const int index = row_schema.Find(key);
      if (index < 0) {
        const int in_input = schema_.Find(key);
        AIOK_CHECK(in_input >= 0 && IsTarget(schema_.fields[static_cast<size_t>(in_input)]),
                   ErrorKind::kInvalidInput, "row {}: unknown field '{}'{} (fields: {})", r, key,
                   DidYouMean(key, names), fmt::join(names, ", "));
      }
    }
    for (size_t f = 0; f < schema_.fields.size(); ++f) {
      const data::Field& field = schema_.fields[f];
      if (IsTarget(field) || (prepare_ && prepare_->fields().count(field.name)))
        continue;
      data::ColumnValues& column = batch.columns[f];
      const nlohmann::json* value = row.contains(field.name) ? &row.at(field.name) : nullptr;
      auto bad = [&](const char* expected, const std::string& found) {
        Throw(ErrorKind::kInvalidInput, "row {}, field {}: expected {}, found {}", r, field.name,
              expected, found);
      };
      const bool missing = value == nullptr || value->is_null() ||
                           (value->is_string() && value->get<std::string>().empty());
      if (!field.type.list) {
        if (missing) {
          column.valid.push_back(0);
          data::ParseValue(field.type.value == data::ValueType::kString ? "" : "0", field.type,
                           &column);
          continue;
        }
        if (value->is_array() || value->is_object())
          bad("a single value", value->dump());
        if (field.type.hex && !value->is_string())
          bad("a string of hex digits", value->dump());  // 12 could mean 0x12 or twelve
        column.valid.push_back(1);
        if (const char* expected = data::ParseValue(JsonText(*value), field.type, &column))
          bad(expected, value->dump());
        continue;
      }
      column.valid.push_back(missing ? 0 : 1);
      if (!missing) {
        std::vector<std::string> elements;
        if (value->is_array()) {
          for (const auto& element : *value) {
            if (element.is_array() || element.is_object() || element.is_null())
              bad("a list of values", value->dump());
            elements.push_back(JsonText(element));
          }
        } else {
          // A text list as in the input file ("Comedy|Drama").
          const std::string text = JsonText(*value);
          size_t begin = 0;
          for (;;) {
            const size_t end =
                std::min(text.find(schema_.format.list_separator, begin), text.size());
            elements.push_back(text.substr(begin, end - begin));
            if (end == text.size())
              break;
            begin = end + 1;
          }
        }
        for (const std::string& element : elements) {
          if (const char* expected = data::ParseValue(element, field.type, &column))
            bad(expected, value->dump());
        }
      }
      column.list_offsets.push_back(static_cast<int64_t>(column.values()));
    }
    ++batch.rows;
  }
  // The label's and weight's columns stay empty: Transform without labels never reads them.
  for (size_t f = 0; f < schema_.fields.size(); ++f) {
    if (IsTarget(schema_.fields[f])) {
      batch.columns[f] = data::ColumnValues();
      batch.columns[f].type = schema_.fields[f].type;
    }
  }
  batch.records = batch.rows;
  return batch;
}

nlohmann::json ServingPipeline::InputDescription() const {
  nlohmann::json fields = nlohmann::json::array();
  for (const data::Field& field : RowSchema(false).fields) {
    fields.push_back({{"name", field.name},
                      {"role", data::FieldRoleName(field.role)},
                      {"type", field.type.Name()}});
  }
  const nlohmann::json format = schema_.ToJson().at("format");
  nlohmann::json description = {
      {"fields", fields},
      {"rows",
       "each row an object of named fields (lists as JSON arrays; absent, null or \"\" is "
       "missing) or one text line in the input format without the label"},
      {"text_format", format}};
  if (prepare_)
    description.update(prepare_->Describe());
  const nlohmann::json& spec = pipeline_.spec().ToJson();
  if (spec.contains("prepare")) {
    description["prepare"] =
        "the model was trained on a prepared table; looked_up fields come from the row's "
        "keys, computed fields from its other fields (sql expressions, through DuckDB), "
        "history and lag fields (collapse_history, difference_lag) are input fields the "
        "request carries, and steps that choose or order rows do not run";
  }
  return description;
}

}  // namespace aiok::serving
