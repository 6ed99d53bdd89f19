#include "aiok/data/text_table_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"
#include "aiok/core/threads.h"
#include "aiok/data/value_parsing.h"
#include "aiok/data/value_parsing.h"

namespace aiok::data {

size_t ColumnValues::values() const {
  switch (type.value) {
    case ValueType::kInt64:
    case ValueType::kTimestamp:
      return ints.size();
    case ValueType::kUInt64:
      return uints.size();
    case ValueType::kFloat64:
      return reals.size();
    case ValueType::kString:
      return ends.size();
  }
  return 0;
}

std::vector<int64_t> TableBatch::RowRecords() const {
  std::vector<int64_t> records;
  records.reserve(static_cast<size_t>(rows));
  size_t next_reject = 0;
  for (int64_t record = first_record; record < first_record + this->records; ++record) {
    if (next_reject < rejects.size() && rejects[next_reject].record == record) {
      ++next_reject;
      continue;
    }
    records.push_back(record - 1);
  }
  AIOK_ASSERT(static_cast<int64_t>(records.size()) == rows);
  return records;
}

const char* ParseValue(std::string_view text, const FieldType& type, ColumnValues* column) {
  ParseStatus status = ParseStatus::kOk;
  const char* expected = nullptr;
  switch (type.value) {
    case ValueType::kInt64: {
      int64_t v = 0;
      status = ParseInt64(text, &v);
      expected = "an integer";
      column->ints.push_back(v);
      break;
    }
    case ValueType::kTimestamp: {
      int64_t v = 0;
      status = ParseTimestamp(text, &v);
      expected = "a timestamp (YYYY-MM-DD[ HH:MM[:SS]] or epoch seconds)";
      column->ints.push_back(v);
      break;
    }
    case ValueType::kUInt64: {
      uint64_t v = 0;
      status = type.hex ? ParseHex64(text, &v) : ParseUInt64(text, &v);
      expected = type.hex ? "up to 16 hex digits" : "a non-negative integer";
      column->uints.push_back(v);
      break;
    }
    case ValueType::kFloat64: {
      double v = 0;
      status = ParseFloat64(text, &v);
      expected = "a number";
      column->reals.push_back(v);
      break;
    }
    case ValueType::kString:
      column->bytes.append(text.data(), text.size());
      AIOK_CHECK(column->bytes.size() <= UINT32_MAX, ErrorKind::kTooLarge,
                 "a batch holds more than 4 GiB of text in one column");
      column->ends.push_back(static_cast<uint32_t>(column->bytes.size()));
      return nullptr;
  }
  if (status == ParseStatus::kOk)
    return nullptr;
  return status == ParseStatus::kOutOfRange ? "a value in range" : expected;
}

namespace {

// A place-holder value for a missing scalar, so that every column keeps one value per row.
void AppendMissing(const FieldType& type, ColumnValues* column) {
  switch (type.value) {
    case ValueType::kInt64:
    case ValueType::kTimestamp:
      column->ints.push_back(0);
      break;
    case ValueType::kUInt64:
      column->uints.push_back(0);
      break;
    case ValueType::kFloat64:
      column->reals.push_back(0.0);
      break;
    case ValueType::kString:
      column->ends.push_back(static_cast<uint32_t>(column->bytes.size()));
      break;
  }
}

}  // namespace

void TruncateToRows(ColumnValues* c, size_t rows) {
  c->valid.resize(rows);
  size_t values = rows;
  if (c->type.list) {
    c->list_offsets.resize(rows + 1);
    values = static_cast<size_t>(c->list_offsets.back());
  }
  c->ints.resize(std::min(c->ints.size(), values));
  c->uints.resize(std::min(c->uints.size(), values));
  c->reals.resize(std::min(c->reals.size(), values));
  c->ends.resize(std::min(c->ends.size(), values));
  c->bytes.resize(c->ends.empty() ? 0 : c->ends.back());
}

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// A problem found in one record, located relative to the parsed text until committed.
struct RecordProblem {
  int64_t relative_record = 0;  // 0-based within the text
  int64_t relative_line = 0;    // 0-based physical line within the text
  int64_t column = 0;           // 1-based character column in that line
  std::string what;
};

enum class ParseEnd {
  kDone,      // every record starting before `end` is parsed
  kNeedMore,  // a record runs past the bytes at hand (which do not reach the end of file)
  kProblem,   // kFail and a bad record
};

// Parses records of one text. Values are appended to the batch's columns.
class RecordParser {
 public:
  RecordParser(const TableSchema& schema, OnError on_error)
      : schema_(schema), format_(schema.format), on_error_(on_error) {
    for (const std::string& token : format_.null_tokens)
      null_lengths_ |= token.size() < 64 ? uint64_t{1} << token.size() : 0;
    for (const Field& field : schema.fields) {
      FastKind kind = FastKind::kOther;
      if (!field.type.list && field.type.value == ValueType::kInt64)
        kind = FastKind::kInt64;
      if (!field.type.list && field.type.value == ValueType::kUInt64 && field.type.hex)
        kind = FastKind::kHex;
      if (!field.type.list && field.type.value == ValueType::kFloat64)
        kind = FastKind::kFloat64;
      if (!field.type.list && field.type.value == ValueType::kString)
        kind = FastKind::kString;
      fast_kinds_.push_back(kind);
      required_.push_back(field.role == FieldRole::kLabel || field.role == FieldRole::kWeight);
    }
  }

  // Parses records starting at text[pos] while they start before `end`. `at_eof`: the text
  // ends where the file does. On kDone, *stop is where the next record would start.
  ParseEnd Parse(const char* text, size_t size, size_t pos, size_t end, bool at_eof,
                 TableBatch* batch, size_t* stop, std::optional<RecordProblem>* problem) {
    text_ = text;
    limit_ = text + size;
    at_eof_ = at_eof;
    batch->columns.resize(schema_.fields.size());
    for (size_t f = 0; f < schema_.fields.size(); ++f) {
      ColumnValues& column = batch->columns[f];
      column.type = schema_.fields[f].type;
      if (column.type.list && column.list_offsets.empty())
        column.list_offsets.push_back(0);
    }
    // Room for the rows the text probably holds (at least 4 bytes a field), so that the
    // columns do not grow step by step. The fast path's columns are sized to it and written
    // by index; they get their exact size back before anything else touches them.
    capacity_ = (std::min(end, size) - std::min(pos, std::min(end, size))) /
                    (4 * schema_.fields.size() + 1) + 16;
    for (ColumnValues& column : batch->columns) {
      column.valid.reserve(capacity_);
      switch (column.type.value) {
        case ValueType::kInt64:
        case ValueType::kTimestamp:
          column.ints.reserve(capacity_);
          break;
        case ValueType::kUInt64:
          column.uints.reserve(capacity_);
          break;
        case ValueType::kFloat64:
          column.reals.reserve(capacity_);
          break;
        case ValueType::kString:
          column.ends.reserve(capacity_);
          break;
      }
    }
    SizeFastColumns(batch, capacity_);
    const ParseEnd result = ParseRecords(pos, end, batch, stop, problem);
    SizeFastColumns(batch, static_cast<size_t>(batch->rows));
    return result;
  }

 private:
  ParseEnd ParseRecords(size_t pos, size_t end, TableBatch* batch, size_t* stop,
                        std::optional<RecordProblem>* problem) {
    const char* text = text_;
    const auto size = static_cast<size_t>(limit_ - text_);
    while (pos < end && pos < size) {
      const char* start = text + pos;
      // Blank lines carry no record (as pandas and csv readers skip them), unless a record is
      // one field, whose empty value a blank line is.
      if (schema_.fields.size() > 1 && (*start == '\n' || (*start == '\r' && pos + 1 < size &&
                                                               start[1] == '\n'))) {
        const size_t skip = *start == '\n' ? 1 : 2;
        ++batch->lines;
        pos += skip;
        continue;
      }
      lines_in_record_ = 0;
      const char* record_end = nullptr;
      if (static_cast<size_t>(batch->rows) == capacity_) {
        capacity_ *= 2;
        SizeFastColumns(batch, capacity_);
      }
      if (FastRecord(start, batch, &record_end)) {
        ++batch->rows;
        ++batch->records;
        batch->lines += record_end < limit_ ? 1 : 0;
        pos = static_cast<size_t>(record_end - text) + (record_end < limit_ ? 1 : 0);
        continue;
      }
      // Anything unusual (quotes, a bad or missing value, too few or many fields, a record
      // cut by the end of the bytes): undo what the fast path stored and take the full one,
      // which appends to columns of their exact size.
      for (ColumnValues& column : batch->columns)
        TruncateToRows(&column, static_cast<size_t>(batch->rows));
      std::optional<std::pair<const char*, std::string>> bad;
      const bool complete = ParseRecord(start, batch, &record_end, &bad);
      if (!complete)
        return ParseEnd::kNeedMore;
      struct Regrow {
        RecordParser* parser;
        TableBatch* batch;
        ~Regrow() {
          parser->capacity_ = std::max(parser->capacity_, static_cast<size_t>(batch->rows) + 1);
          parser->SizeFastColumns(batch, parser->capacity_);
        }
      } regrow{this, batch};
      if (bad) {
        // Undo what the record stored: every column back to the accepted rows.
        for (ColumnValues& column : batch->columns)
          TruncateToRows(&column, static_cast<size_t>(batch->rows));
        // The problem's own line and column: a quoted field may have moved it past newlines.
        const char* at = bad->first;
        const auto lines_before = std::count(start, at, '\n');
        const char* its_line = start;
        if (lines_before > 0)
          its_line = static_cast<const char*>(memrchr(start, '\n', static_cast<size_t>(at - start))) + 1;
        RecordProblem found{batch->records, batch->lines + lines_before,
                            static_cast<int64_t>(at - its_line) + 1, std::move(bad->second)};
        if (on_error_ == OnError::kFail) {
          *problem = std::move(found);
          return ParseEnd::kProblem;
        }
        // The column stays in the reason so that a skipped record says as much as a failed
        // one; the record and line numbers are made absolute when the batch is numbered.
        batch->rejects.push_back(RejectedRecord{found.relative_record, batch->lines,
                                                fmt::format("column {}: {}", found.column,
                                                            found.what)});
      } else {
        ++batch->rows;
      }
      ++batch->records;
      // A record's lines: the ones inside its quotes plus its own.
      batch->lines += lines_in_record_ + (record_end < limit_ ? 1 : 0);
      pos = static_cast<size_t>(record_end - text) + (record_end < limit_ ? 1 : 0);
    }
    *stop = pos;
    return ParseEnd::kDone;
  }

  // Sizes the columns the fast path writes by index (scalar int64, hex and float64) to
  // `rows` values.
  void SizeFastColumns(TableBatch* batch, size_t rows) {
    for (size_t f = 0; f < fast_kinds_.size(); ++f) {
      ColumnValues& column = batch->columns[f];
      switch (fast_kinds_[f]) {
        case FastKind::kInt64:
          column.ints.resize(rows);
          break;
        case FastKind::kHex:
          column.uints.resize(rows);
          break;
        case FastKind::kFloat64:
          column.reals.resize(rows);
          break;
        case FastKind::kString:
        case FastKind::kOther:
          continue;
      }
      column.valid.resize(rows);
    }
  }

  // The common case, fast: a record of unquoted fields that all parse, each field found with
  // a vector search for the separator or the newline. Returns false — having stored part of
  // the record, which the caller undoes — for anything else, which the full parser then
  // handles (and reports) exactly as it would have without this path.
  bool FastRecord(const char* p, TableBatch* batch, const char** record_end) {
    const size_t fields = fast_kinds_.size();
    for (size_t f = 0; f < fields; ++f) {
      const char* e = FindFieldEnd(p);
      if (e == limit_ && !at_eof_)
        return false;
      const char* value_end = e;
      if (f + 1 < fields) {
        if (e == limit_ || *e != format_.separator)
          return false;  // too few fields
      } else {
        if (e < limit_ && *e != '\n')
          return false;  // too many fields
        if (value_end > p && value_end[-1] == '\r')
          --value_end;  // CRLF
      }
      const char* value_begin = p;
      if (format_.trim) {
        while (value_begin < value_end && IsBlank(*value_begin) && *value_begin != format_.separator)
          ++value_begin;
        while (value_end > value_begin && IsBlank(value_end[-1]) && value_end[-1] != format_.separator)
          --value_end;
      }
      if (format_.quote != '\0' && value_begin < value_end && *value_begin == format_.quote)
        return false;  // quoted
      if (!FastStore(std::string_view(value_begin, static_cast<size_t>(value_end - value_begin)), f,
                     batch))
        return false;
      p = e + 1;
      if (f + 1 == fields)
        *record_end = e;
    }
    return true;
  }

  // The first separator or newline at or after p, or limit_.
  const char* FindFieldEnd(const char* p) const {
#if defined(__SSE2__)
    const __m128i separator = _mm_set1_epi8(format_.separator);
    const __m128i newline = _mm_set1_epi8('\n');
    while (limit_ - p >= 16) {
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const int mask = _mm_movemask_epi8(
          _mm_or_si128(_mm_cmpeq_epi8(chunk, separator), _mm_cmpeq_epi8(chunk, newline)));
      if (mask != 0)
        return p + __builtin_ctz(static_cast<unsigned>(mask));
      p += 16;
    }
#endif
    while (p < limit_ && *p != format_.separator && *p != '\n')
      ++p;
    return p;
  }

  // Stores one unquoted value of row batch->rows; false when the full path must look at it
  // (it does not parse, or it is a missing label or weight).
  bool FastStore(std::string_view value, size_t f, TableBatch* batch) {
    const FastKind kind = fast_kinds_[f];
    if (kind == FastKind::kOther)
      return Store(value, false, f, batch) == nullptr;
    ColumnValues& column = batch->columns[f];
    const bool missing = (value.size() >= 64 || (null_lengths_ >> value.size() & 1)) &&
                         format_.IsNull(value.data(), value.size());
    if (missing && required_[f])
      return false;
    if (kind == FastKind::kString) {
      column.valid.push_back(missing ? 0 : 1);
      if (missing) {
        AppendMissing(column.type, &column);
        return true;
      }
      return ParseValue(value, column.type, &column) == nullptr;
    }
    const auto row = static_cast<size_t>(batch->rows);
    column.valid[row] = missing ? 0 : 1;
    switch (kind) {
      case FastKind::kInt64: {
        if (missing) {
          column.ints[row] = 0;
          return true;
        }
        // Up to 18 digits cannot overflow; longer ones, a '+' or a bad digit go the full way.
        const char* d = value.data();
        size_t n = value.size();
        const bool negative = *d == '-';
        d += negative;
        n -= negative;
        if (n == 0 || n > 18)
          return false;
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) {
          const auto digit = static_cast<unsigned>(d[i] - '0');
          if (digit > 9)
            return false;
          v = v * 10 + digit;
        }
        column.ints[row] = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
        return true;
      }
      case FastKind::kHex: {
        if (missing) {
          column.uints[row] = 0;
          return true;
        }
        if (value.size() > 16)
          return false;
        uint64_t v = 0;
        for (const char c : value) {
          const int8_t digit = kHexDigitValue[static_cast<unsigned char>(c)];
          if (digit < 0)
            return false;
          v = (v << 4) | static_cast<uint64_t>(digit);
        }
        column.uints[row] = v;
        return true;
      }
      case FastKind::kFloat64: {
        if (missing) {
          column.reals[row] = 0.0;
          return true;
        }
        return ParseFloat64(value, &column.reals[row]) == ParseStatus::kOk;
      }
      case FastKind::kString:
      case FastKind::kOther:
        break;
    }
    return false;
  }

  // Parses the record at `p` into the columns. Returns false when the record runs past the
  // text and more bytes exist. *record_end: its '\n' (or the end of the text). A bad record
  // sets *bad (where, what) and still finds its end, so that parsing goes on after it.
  bool ParseRecord(const char* p, TableBatch* batch, const char** record_end,
                   std::optional<std::pair<const char*, std::string>>* bad) {
    const size_t fields = schema_.fields.size();
    for (size_t f = 0; f < fields; ++f) {
      const char* field_start = p;
      std::string_view value;
      bool quoted = false;
      // Spaces before an opening quote are not part of the field either (pandas'
      // skipinitialspace): `1, "a, b"` is two fields.
      const char* q = p;
      while (format_.trim && q < limit_ && IsBlank(*q) && *q != format_.separator)
        ++q;
      if (format_.quote != '\0' && q < limit_ && *q == format_.quote) {
        p = q;
        quoted = true;
        const char* close = nullptr;
        if (!ScanQuoted(p + 1, &close))
          return false;
        if (close == nullptr) {
          *bad = std::make_pair(field_start, std::string("a closing quote; the file ends inside a "
                                                         "quoted field"));
          *record_end = limit_;
          return true;
        }
        value = Unquote(p + 1, close);
        p = close + 1;
        while (format_.trim && p < limit_ && IsBlank(*p) && *p != format_.separator)
          ++p;
      } else {
        const char* e = p;
        while (e < limit_ && *e != format_.separator && *e != '\n')
          ++e;
        if (e == limit_ && !at_eof_)
          return false;
        const char* value_end = e;
        if (value_end > p && value_end[-1] == '\r' && (e == limit_ || *e == '\n'))
          --value_end;  // CRLF
        const char* value_begin = p;
        if (format_.trim) {
          while (value_begin < value_end && IsBlank(*value_begin) &&
                 *value_begin != format_.separator)
            ++value_begin;
          while (value_end > value_begin && IsBlank(value_end[-1]) &&
                 value_end[-1] != format_.separator)
            --value_end;
        }
        value = std::string_view(value_begin, static_cast<size_t>(value_end - value_begin));
        p = e;
      }
      // What follows the field: a separator, or the end of the record after the last field.
      const bool line_end = p == limit_ || *p == '\n' || (*p == '\r' && p + 1 < limit_ && p[1] == '\n') ||
                            (*p == '\r' && p + 1 == limit_);
      if (f + 1 < fields) {
        if (line_end || *p != format_.separator) {
          if (!line_end) {
            *bad = std::make_pair(p, fmt::format("expected a separator after the quoted field "
                                                 "{}, found {}",
                                                 schema_.fields[f].name, Shown(std::string_view(p, 1))));
          } else {
            *bad = std::make_pair(p, fmt::format("expected {} fields, found {}", fields, f + 1));
          }
          *record_end = FindLineEnd(p);
          return *record_end != nullptr;
        }
        ++p;
      } else if (!line_end) {
        if (*p == format_.separator) {
          size_t found = fields;
          const char* e = FindLineEnd(p);
          if (e == nullptr)
            return false;
          found += static_cast<size_t>(std::count(p, e, format_.separator));
          *bad = std::make_pair(p, fmt::format("expected {} fields, found {}", fields, found));
          *record_end = e;
        } else {
          *bad = std::make_pair(p, fmt::format("expected a separator after the quoted field "
                                               "{}, found {}",
                                               schema_.fields[f].name, Shown(std::string_view(p, 1))));
          *record_end = FindLineEnd(p);
          if (*record_end == nullptr)
            return false;
        }
        return true;
      }
      if (!bad->has_value()) {
        if (const char* expected = Store(value, quoted, f, batch)) {
          *bad = std::make_pair(field_start,
                                fmt::format("{} (field {} of {}): expected {}, found {}",
                                            schema_.fields[f].name, f + 1, fields, expected,
                                            Shown(value)));
        }
      }
    }
    // p is at '\n', "\r\n" or the end of the text.
    if (p < limit_ && *p == '\r')
      ++p;
    *record_end = p;
    return true;
  }

  // Finds the closing quote of a quoted field whose text starts at `p`, counting the newlines
  // inside. Returns false if the text ends first and more bytes exist; *close stays null if
  // the file ends inside the quotes.
  bool ScanQuoted(const char* p, const char** close) {
    needs_unescape_ = false;
    for (;;) {
      const void* q = std::memchr(p, format_.quote, static_cast<size_t>(limit_ - p));
      const char* found = q == nullptr ? limit_ : static_cast<const char*>(q);
      for (const char* c = p; c < found; ++c) {
        lines_in_record_ += *c == '\n';
      }
      if (found == limit_)
        return at_eof_;
      if (found + 1 < limit_ && found[1] == format_.quote) {  // "" is a quote inside quotes
        needs_unescape_ = true;
        p = found + 2;
        continue;
      }
      if (found + 1 == limit_ && !at_eof_)
        return false;  // the next byte decides whether this quote closes the field
      *close = found;
      return true;
    }
  }

  std::string_view Unquote(const char* begin, const char* end) {
    if (!needs_unescape_)
      return std::string_view(begin, static_cast<size_t>(end - begin));
    scratch_.clear();
    for (const char* c = begin; c < end; ++c) {
      scratch_ += *c;
      if (*c == format_.quote)
        ++c;  // the second of a doubled quote
    }
    return scratch_;
  }

  // The '\n' ending the line at p (or the end of the text at the end of the file); nullptr
  // when more bytes are needed.
  const char* FindLineEnd(const char* p) const {
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(limit_ - p));
    if (nl != nullptr)
      return static_cast<const char*>(nl);
    return at_eof_ ? limit_ : nullptr;
  }

  // Stores a field's value into its column; returns what was expected if it does not parse.
  const char* Store(std::string_view value, bool quoted, size_t f, TableBatch* batch) {
    const FieldType& type = schema_.fields[f].type;
    ColumnValues& column = batch->columns[f];
    // A quoted string is a value even when it reads like a null token: `""` is the empty
    // string and `"NA"` the text NA. (pandas reads both as missing; quoting is how a CSV says
    // "this is text".)
    // Most values are of a length no null token has: the mask says so without comparing.
    const bool quoted_text = quoted && type.value == ValueType::kString && !type.list;
    const bool missing = !quoted_text && (value.size() >= 64 || (null_lengths_ >> value.size() & 1)) &&
                         format_.IsNull(value.data(), value.size());
    const FieldRole role = schema_.fields[f].role;
    if (missing && (role == FieldRole::kLabel || role == FieldRole::kWeight))
      return role == FieldRole::kLabel ? "a label (it must not be missing)" : "a weight";
    column.valid.push_back(missing ? 0 : 1);
    if (!type.list) {
      if (missing) {
        AppendMissing(type, &column);
        return nullptr;
      }
      return ParseValue(value, type, &column);
    }
    if (!missing) {
      size_t begin = 0;
      for (;;) {
        size_t end = value.find(format_.list_separator, begin);
        if (end == std::string_view::npos)
          end = value.size();
        std::string_view element = value.substr(begin, end - begin);
        while (!element.empty() && IsBlank(element.front()))
          element.remove_prefix(1);
        while (!element.empty() && IsBlank(element.back()))
          element.remove_suffix(1);
        if (element.empty())
          return "list elements separated by single list separators (an element is empty)";
        if (const char* expected = ParseValue(element, type, &column))
          return expected;
        if (end == value.size())
          break;
        begin = end + 1;
      }
    }
    column.list_offsets.push_back(static_cast<int64_t>(column.values()));
    return nullptr;
  }

  const TableSchema& schema_;
  const TextFormat& format_;
  OnError on_error_;
  const char* text_ = nullptr;
  const char* limit_ = nullptr;
  bool at_eof_ = false;
  int64_t lines_in_record_ = 0;
  bool needs_unescape_ = false;
  std::string scratch_;
  uint64_t null_lengths_ = 1;  // bit n: some null token has n bytes ("" always)
  // How the fast path stores each field (kOther: through Store), and which fields may not
  // be missing.
  enum class FastKind { kInt64, kHex, kFloat64, kString, kOther };
  std::vector<FastKind> fast_kinds_;
  std::vector<bool> required_;
  size_t capacity_ = 0;  // values the fast path's columns hold while parsing
};

// Gives a parsed batch its place in the file and counts it into `summary`. Readers call it
// in file order; `lines_before` is the physical lines before the batch (header included).
void NumberBatch(TableBatch& batch, int64_t lines_before, TextReadSummary* summary) {
  batch.first_record = summary->records + 1;
  batch.first_row = summary->rows;
  for (RejectedRecord& reject : batch.rejects) {
    reject.record += batch.first_record;
    reject.line += lines_before + 1;
  }
  summary->records += batch.records;
  summary->rows += batch.rows;
  summary->rejected += static_cast<int64_t>(batch.rejects.size());
}

constexpr char kBom[] = "\xEF\xBB\xBF";

// Where the data starts: after a BOM and, if the format has one, the header record, which
// must name the schema's fields in order. Also counts the header's physical lines.
size_t SkipHeader(const ReadOnlyFile& file, const TableSchema& schema, int64_t* header_lines) {
  size_t to = std::min<size_t>(file.size(), 1 << 16);
  std::string head;
  for (;;) {
    head.resize(to);
    file.Read(0, to, head.data());
    size_t start = head.compare(0, 3, kBom) == 0 ? 3 : 0;
    if (!schema.format.header) {
      *header_lines = 0;
      return start;
    }
    TableSchema as_text = schema;
    for (Field& field : as_text.fields)
      field.type = FieldType{ValueType::kString, false, false};
    RecordParser parser(as_text, OnError::kFail);
    TableBatch batch;
    size_t stop = 0;
    std::optional<RecordProblem> problem;
    const ParseEnd end = parser.Parse(head.data(), head.size(), start, start + 1,
                                      to == file.size(), &batch, &stop, &problem);
    if (end == ParseEnd::kNeedMore) {
      to = std::min(file.size(), to * 4);
      continue;
    }
    std::vector<std::string> found = SplitHeader(std::string_view(head).substr(start), schema.format);
    const std::vector<std::string> expected = schema.Names();
    if (found != expected) {
      size_t i = 0;
      while (i < found.size() && i < expected.size() && found[i] == expected[i])
        ++i;
      ThrowAt(TextLocation{file.path(), 1, 0},
              "the header does not match the schema: field {} is {}, expected {} ({} fields "
              "in the header, {} in the schema)",
              i + 1, i < found.size() ? "'" + found[i] + "'" : "missing",
              i < expected.size() ? "'" + expected[i] + "'" : "no more fields", found.size(),
              expected.size());
    }
    *header_lines = batch.lines;
    return stop;
  }
}

// Bytes past a range's end that its last record usually needs; a longer one costs a re-read.
constexpr size_t kLongestRecord = 8192;
// How far past its end a range that guessed its first record may read before the guess is
// taken as wrong (a quote opened in the previous range): the in-order turn parses it again.
constexpr size_t kGuessReach = size_t{1} << 20;

// Parses the records starting in file bytes [begin, end), the first of them at exactly
// `begin` when `exact`, else at the first line start at or after `begin` (a guess). Sets
// *first_start to the file offset of the first record (SIZE_MAX when a guessed start ran too
// far to be right) and *stop to where the next record starts.
std::optional<RecordProblem> ParseRange(const ReadOnlyFile& file, const TableSchema& schema,
                                        OnError on_error, size_t begin, size_t end, bool exact,
                                        TableBatch* batch, size_t* first_start, size_t* stop) {
  const size_t from = begin == 0 || exact ? begin : begin - 1;
  size_t to = std::min(file.size(), end + kLongestRecord);
  UninitializedVector<char> bytes;
  for (;;) {
    bytes.resize(to - from);
    file.Read(from, to - from, bytes.data());
    const bool at_eof = to == file.size();
    auto read_more = [&] {
      if (!exact && to - end > kGuessReach)
        return false;
      to = std::min(file.size(), to + 2 * (to - from));
      return true;
    };
    size_t pos = begin - from;
    if (!exact && from < begin && bytes[0] != '\n') {
      const void* nl = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
      if (nl == nullptr && !at_eof) {
        if (read_more())
          continue;
        *first_start = SIZE_MAX;
        return std::nullopt;
      }
      pos = nl == nullptr ? bytes.size()
                          : static_cast<size_t>(static_cast<const char*>(nl) - bytes.data()) + 1;
    }
    *first_start = from + pos;
    *batch = TableBatch{};
    RecordParser parser(schema, on_error);
    size_t local_stop = end - from;
    std::optional<RecordProblem> problem;
    const ParseEnd result =
        parser.Parse(bytes.data(), bytes.size(), pos, end - from, at_eof, batch, &local_stop, &problem);
    if (result == ParseEnd::kNeedMore) {
      if (read_more())
        continue;
      *first_start = SIZE_MAX;
      return std::nullopt;
    }
    *stop = from + local_stop;
    return problem;
  }
}

}  // namespace

std::vector<std::string> SplitHeader(std::string_view text, const TextFormat& format) {
  // Parse the first record as strings, as many fields as it has.
  std::vector<std::string> names;
  std::string current;
  bool in_quotes = false;
  size_t i = 0;
  bool at_field_start = true;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == format.quote) {
        if (i + 1 < text.size() && text[i + 1] == format.quote) {
          current += c;
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        current += c;
      }
      continue;
    }
    if (at_field_start && format.quote != '\0' && c == format.quote) {
      in_quotes = true;
      at_field_start = false;
      continue;
    }
    if (c == format.separator || c == '\n') {
      names.push_back(current);
      current.clear();
      at_field_start = true;
      if (c == '\n')
        break;
      continue;
    }
    at_field_start = false;
    current += c;
  }
  if (i == text.size() && !(text.empty() && names.empty()))
    names.push_back(current);
  for (std::string& name : names) {
    if (!name.empty() && name.back() == '\r')
      name.pop_back();
    if (format.trim) {
      const size_t a = name.find_first_not_of(" \t");
      const size_t b = name.find_last_not_of(" \t");
      name = a == std::string::npos ? "" : name.substr(a, b - a + 1);
    }
  }
  return names;
}

TextReadSummary ReadTextTable(const std::string& path, const TableSchema& schema,
                              const TextReadOptions& options, const RunContext& ctx,
                              const std::function<void(TableBatch&)>& in_order,
                              const std::function<void(TableBatch&, int64_t)>& concurrently) {
  AIOK_CHECK(options.range_bytes > 0, ErrorKind::kConfig, "range_bytes must be positive");
  const ReadOnlyFile input(path);
  if (input.size() == 0) {
    ThrowAt(TextLocation{path, 0, 0}, "file is empty: expected {}rows of {} fields",
            schema.format.header ? "a header and " : "", schema.fields.size());
  }
  TextReadSummary summary;
  summary.bytes = static_cast<int64_t>(input.size());
  int64_t lines_before = 0;
  const size_t data_start = SkipHeader(input, schema, &lines_before);
  const size_t data_bytes = input.size() - data_start;
  const auto range = static_cast<size_t>(options.range_bytes);
  const auto ranges = static_cast<int64_t>((data_bytes + range - 1) / range);
  // Where the previous batch's last record ended: a range that assumed another start (a
  // quoted newline straddled the cut) is parsed again from there, in its turn.
  size_t expected_start = data_start;
  OrderedTurns turns;
  ParallelFor(ranges, ctx.threads, [&](int64_t index) {
    try {
      ctx.cancel->ThrowIfCancelled();
      const size_t begin = data_start + static_cast<size_t>(index) * range;
      const size_t end = std::min(input.size(), begin + range);
      TableBatch batch;
      size_t first_start = 0;
      size_t stop = 0;
      std::optional<RecordProblem> problem = ParseRange(
          input, schema, options.on_error, begin, end, index == 0, &batch, &first_start, &stop);
      turns.Commit(index, [&] {
        if (first_start != expected_start) {
          if (expected_start >= end) {
            // The previous range's last record covered this whole range.
            batch = TableBatch{};
            problem.reset();
            stop = expected_start;
          } else {
            problem = ParseRange(input, schema, options.on_error, expected_start, end, true,
                                 &batch, &first_start, &stop);
          }
        }
        expected_start = stop;
        if (problem) {
          ThrowAt(TextLocation{path, lines_before + 1 + problem->relative_line, problem->column},
                  "{}", problem->what);
        }
        NumberBatch(batch, lines_before, &summary);
        lines_before += batch.lines;
        in_order(batch);
      });
      if (concurrently)
        concurrently(batch, index);
    } catch (...) {
      turns.Abort();
      throw;
    }
  });
  return summary;
}

void ParseTextTable(std::string_view text, const TableSchema& schema, OnError on_error,
                    const std::string& source, TableBatch* batch) {
  *batch = TableBatch{};
  RecordParser parser(schema, on_error);
  size_t stop = 0;
  std::optional<RecordProblem> problem;
  parser.Parse(text.data(), text.size(), 0, text.size(), true, batch, &stop, &problem);
  if (problem) {
    ThrowAt(TextLocation{source, 1 + problem->relative_line, problem->column}, "{}",
            problem->what);
  }
  TextReadSummary summary;
  NumberBatch(*batch, 0, &summary);
}

}  // namespace aiok::data
