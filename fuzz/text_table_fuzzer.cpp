// Fuzzes the delimited-text reader over every schema shape. The first bytes of the input
// choose the schema (separator, header, quote, list separator, null tokens, trim, field
// types and roles, kFail or kSkip) and how a file read cuts its ranges; the rest is the text.
//
//   byte 0: separator (bits 0-2), header (bit 3), quote (bits 4-5), trim (bit 6), skip (bit 7)
//   byte 1: list separator (bits 0-2), null tokens (bits 3-4), range bytes (bits 5-7)
//   byte 2: field count - 1 (bits 0-3)
//   one byte per field: value type (bits 0-2, mod 5), list (bit 3), hex (bit 4), role (5-7)
//
// Checks: ParseTextTable's batch is consistent (fuzz_common.h); the file reader
// (ReadTextTable) with ranges of a few bytes gives exactly the rows, values and rejects (or
// the error) of the in-memory parse — "the result never depends on where the cuts fell" —
// and with a header, reads the header the schema names (taken from the text's first record).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aiok/core/context.h"
#include "aiok/data/schema.h"
#include "aiok/data/text_table_reader.h"
#include "fuzz_common.h"

namespace {

using aiok::data::Field;
using aiok::data::FieldRole;
using aiok::data::FieldType;
using aiok::data::TableBatch;
using aiok::data::TableSchema;
using aiok::data::TextFormat;
using aiok::data::ValueType;

constexpr char kSeparators[] = {',', '\t', ';', '|', ' ', ':', 'x', '\0'};
constexpr char kQuotes[] = {'"', '\'', '\0', '|'};
constexpr char kListSeparators[] = {'|', ';', ',', ' ', '\t', '"', ':', 'x'};
constexpr int64_t kRangeBytes[] = {1, 2, 3, 5, 8, 17, 64, 4 << 20};
constexpr FieldRole kRoles[] = {FieldRole::kLabel,     FieldRole::kDense,
                                FieldRole::kCategorical, FieldRole::kMultiCategorical,
                                FieldRole::kSequence,  FieldRole::kTimestamp,
                                FieldRole::kWeight,    FieldRole::kIgnored};

std::vector<std::string> NullTokens(int choice) {
  switch (choice) {
    case 0:
      return TextFormat().null_tokens;
    case 1:
      return {""};
    case 2:
      return {"", "NA", "-", "\"\""};
    default:  // longer than the 64-byte length mask of the fast path
      return {"", std::string(70, 'N')};
  }
}

// Whether `field` alone is a valid schema (its role takes its type).
bool FieldValid(const Field& field) {
  TableSchema one;
  one.fields = {field};
  try {
    one.Validate("fuzz");
    return true;
  } catch (const aiok::Error&) {
    return false;
  }
}

// The schema the first bytes describe; false when the bytes run out or describe an invalid
// format (a separator equal to the quote, ...).
bool MakeSchema(std::string_view* in, TableSchema* schema, aiok::data::OnError* on_error,
                int64_t* range_bytes) {
  if (in->size() < 3)
    return false;
  const auto b0 = static_cast<uint8_t>((*in)[0]);
  const auto b1 = static_cast<uint8_t>((*in)[1]);
  const auto b2 = static_cast<uint8_t>((*in)[2]);
  const size_t fields = (b2 & 15u) + 1;
  if (in->size() < 3 + fields)
    return false;
  TextFormat& format = schema->format;
  format.separator = kSeparators[b0 & 7u];
  format.header = (b0 >> 3) & 1u;
  format.quote = kQuotes[(b0 >> 4) & 3u];
  format.trim = (b0 >> 6) & 1u;
  *on_error = (b0 >> 7) & 1u ? aiok::data::OnError::kSkip : aiok::data::OnError::kFail;
  format.list_separator = kListSeparators[b1 & 7u];
  format.null_tokens = NullTokens((b1 >> 3) & 3u);
  *range_bytes = kRangeBytes[(b1 >> 5) & 7u];
  bool has_label = false;
  bool has_weight = false;
  for (size_t f = 0; f < fields; ++f) {
    const auto b = static_cast<uint8_t>((*in)[3 + f]);
    Field field;
    field.name = "f" + std::to_string(f);
    field.type.value = static_cast<ValueType>((b & 7u) % 5);
    field.type.list = (b >> 3) & 1u;
    field.type.hex = ((b >> 4) & 1u) && field.type.value == ValueType::kUInt64;
    field.role = kRoles[(b >> 5) & 7u];
    if ((field.role == FieldRole::kLabel && has_label) ||
        (field.role == FieldRole::kWeight && has_weight) || !FieldValid(field)) {
      field.role = FieldRole::kIgnored;
    }
    has_label |= field.role == FieldRole::kLabel;
    has_weight |= field.role == FieldRole::kWeight;
    schema->fields.push_back(field);
  }
  in->remove_prefix(3 + fields);
  try {
    schema->Validate("fuzz");
  } catch (const aiok::Error&) {
    return false;
  }
  return true;
}

// A batch's accepted rows and rejects as text, keyed by record number, to compare two reads
// of the same bytes.
using Canonical = std::map<int64_t, std::string>;
void AppendCanonical(const TableBatch& batch, Canonical* out) {
  for (const auto& reject : batch.rejects) {
    (*out)[reject.record] = "reject line " + std::to_string(reject.line) + ": " + reject.reason;
  }
  const std::vector<int64_t> records = batch.RowRecords();
  for (int64_t r = 0; r < batch.rows; ++r) {
    const auto row = static_cast<size_t>(r);
    std::string text;
    for (const auto& c : batch.columns) {
      text += c.valid[row] ? "|" : "|null";
      size_t begin = row, end = row + 1;
      if (c.type.list) {
        begin = static_cast<size_t>(c.list_offsets[row]);
        end = static_cast<size_t>(c.list_offsets[row + 1]);
      }
      if (!c.valid[row] && !c.type.list)
        continue;
      for (size_t i = begin; i < end; ++i) {
        text += ' ';
        switch (c.type.value) {
          case ValueType::kInt64:
          case ValueType::kTimestamp:
            text += std::to_string(c.ints[i]);
            break;
          case ValueType::kUInt64:
            text += std::to_string(c.uints[i]);
            break;
          case ValueType::kFloat64: {
            char buffer[32];
            std::snprintf(buffer, sizeof buffer, "%a", c.reals[i]);
            text += buffer;
            break;
          }
          case ValueType::kString:
            text += '[';
            text += c.string(i);
            text += ']';
            break;
        }
      }
    }
    (*out)[records[row] + 1] = std::move(text);
  }
}

std::string Text(const Canonical& canonical) {
  std::string text;
  for (const auto& [record, line] : canonical)
    text += std::to_string(record) + " " + line + "\n";
  return text;
}

const std::string& FilePath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/aiok_fuzz_text_" +
           std::to_string(getpid()) + ".csv";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::atexit([] { std::remove(FilePath().c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  TableSchema schema;
  aiok::data::OnError on_error = aiok::data::OnError::kFail;
  int64_t range_bytes = 0;
  if (!MakeSchema(&in, &schema, &on_error, &range_bytes))
    return -1;  // not a schema: keep it out of the corpus
  const std::string& path = FilePath();

  if (schema.format.header) {
    // The header names the fields: take them from the text's first record when it has as
    // many unique, non-empty names, so that a header can match.
    const std::vector<std::string> names = aiok::data::SplitHeader(in, schema.format);
    TableSchema named = schema;
    if (names.size() == schema.fields.size()) {
      for (size_t f = 0; f < names.size(); ++f)
        named.fields[f].name = names[f];
      try {
        named.Validate("fuzz");
        schema = named;
      } catch (const aiok::Error&) {
      }
    }
  }

  // The in-memory parse (no header): what serve does with a text row, and the reference.
  TableBatch parsed;
  std::string parse_outcome;
  Canonical parse_rows;
  const bool parse_ok = aiok::fuzz::Guarded("ParseTextTable", [&] {
    try {
      aiok::data::ParseTextTable(in, schema, on_error, path, &parsed);
    } catch (const aiok::Error& e) {
      parse_outcome = std::string("error: ") + e.what();
      throw;
    }
    aiok::fuzz::CheckBatch(parsed, schema.fields.size(), "ParseTextTable");
  });
  if (parse_ok) {
    AppendCanonical(parsed, &parse_rows);
    parse_outcome = Text(parse_rows);
  }

  // The file reader, its ranges cut every few bytes.
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(in.data(), static_cast<std::streamsize>(in.size()));
  }
  aiok::CancellationToken cancel;
  aiok::RunContext ctx;
  ctx.threads = 1;
  ctx.cancel = &cancel;
  aiok::data::TextReadOptions options;
  options.on_error = on_error;
  options.range_bytes = range_bytes;
  std::string read_outcome;
  Canonical read_rows;
  int64_t records = 0;
  int64_t rows = 0;
  const bool read_ok = aiok::fuzz::Guarded("ReadTextTable", [&] {
    try {
      const aiok::data::TextReadSummary summary = aiok::data::ReadTextTable(
          path, schema, options, ctx, [&](TableBatch& batch) {
            aiok::fuzz::CheckBatch(batch, schema.fields.size(), "ReadTextTable");
            if (batch.first_record != records + 1 || batch.first_row != rows)
              aiok::fuzz::Finding("ReadTextTable: batches out of order");
            records += batch.records;
            rows += batch.rows;
            AppendCanonical(batch, &read_rows);
          });
      read_outcome = Text(read_rows);
      if (summary.records != records || summary.rows != rows)
        aiok::fuzz::Finding("ReadTextTable: the summary does not count the batches");
    } catch (const aiok::Error& e) {
      read_outcome = std::string("error: ") + e.what();
      throw;
    }
  });
  (void)read_ok;

  // Without a header or BOM the two reads see the same records: they must agree exactly.
  const bool comparable = !schema.format.header && !in.empty() &&
                          in.substr(0, 3) != "\xEF\xBB\xBF";
  if (comparable && parse_outcome != read_outcome) {
    aiok::fuzz::Finding("ReadTextTable (ranges of " + std::to_string(range_bytes) +
                        " bytes) differs from ParseTextTable:\n--- parse\n" + parse_outcome +
                        "\n--- read\n" + read_outcome);
  }
  return 0;
}
