#include "aiok/data/criteo_reader.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

#include "aiok/core/error.h"
#include "aiok/core/positional_io.h"
#include "aiok/core/threads.h"
#include "aiok/data/field_parsing.h"
#include "aiok/data/value_parsing.h"

namespace aiok::data {
namespace {

// A problem found in one line, located relative to its range until the range is committed.
struct LineProblem {
  int64_t relative_line = 0;  // 0-based within the range
  int64_t column = 0;         // 1-based character column
  std::string what;
};

std::string FieldName(int field, bool has_label) {
  const int index = has_label ? field - 1 : field;
  if (index < 0)
    return "label";
  if (index < kCriteoDense)
    return CriteoDenseName(index);
  return CriteoCategoricalName(index - kCriteoDense);
}


// Bytes past its end that a range's last line usually needs (Kaggle lines are ~240 bytes);
// a longer line costs a second read.
constexpr size_t kLongestLine = 4096;

class RangeParser {
 public:
  RangeParser(bool has_label, OnError on_error) : has_label_(has_label), on_error_(on_error) {
    fields_ = has_label ? kCriteoFields : kCriteoFields - 1;
  }

  // Parses the lines that start in [begin, end) of `file` (a line may run past `end`).
  // Returns the first problem under kFail.
  std::optional<LineProblem> Parse(const char* file, size_t file_size, size_t begin, size_t end,
                                   CriteoBatch* batch) {
    size_t pos = begin;
    if (pos > 0 && file[pos - 1] != '\n') {
      const void* nl = std::memchr(file + pos, '\n', file_size - pos);
      pos =
          nl == nullptr ? file_size : static_cast<size_t>(static_cast<const char*>(nl) - file) + 1;
    }
    // Columns are sized from an estimate of the range's lines and grown if it falls short:
    // counting the lines first meant reading the whole range twice.
    constexpr size_t kTypicalLineBytes = 192;  // Kaggle lines average ~240 bytes
    size_t capacity = 0;
    auto grow = [&](size_t rows) {
      capacity = rows;
      if (has_label_)
        batch->label.resize(capacity);
      for (auto& column : batch->dense)
        column.resize(capacity);
      for (auto& column : batch->category)
        column.resize(capacity);
    };
    grow((std::min(end, file_size) - std::min(pos, end)) / kTypicalLineBytes + 16);

    int64_t line = 0;
    int64_t row = 0;
    std::array<int64_t, kCriteoDense> dense{};
    std::array<int64_t, kCriteoCategorical> category{};
    // A newline follows every byte before `safe_end`, so the fast path may scan for it
    // without a bound check; only a last line without a newline needs the careful path.
    const char* last_newline = static_cast<const char*>(memrchr(file, '\n', file_size));
    const size_t safe_end = last_newline == nullptr ? 0 : static_cast<size_t>(last_newline - file);
    while (pos < end && pos < file_size) {
      const char* start = file + pos;
      uint8_t label = 0;
      // The fast path takes well-formed lines; anything else goes to the careful parser,
      // which either accepts it too or says exactly what is wrong.
      const char* stop =
          pos <= safe_end ? FastParseLine(start, &label, dense.data(), category.data()) : nullptr;
      std::optional<LineProblem> problem;
      if (stop == nullptr) {
        const void* nl = std::memchr(start, '\n', file_size - pos);
        stop = nl == nullptr ? file + file_size : static_cast<const char*>(nl);
        problem =
            ParseLine(start, stop, nl != nullptr, line, &label, dense.data(), category.data());
      }
      if (problem) {
        if (on_error_ == OnError::kFail) {
          batch->lines = line + 1;
          return problem;
        }
        // The column stays in the reason so a skipped line says as much as a failed one.
        batch->rejects.push_back(
            RejectedLine{line, fmt::format("column {}: {}", problem->column, problem->what)});
      } else {
        if (static_cast<size_t>(row) == capacity)
          grow(capacity + capacity / 2 + 16);
        if (has_label_)
          batch->label[row] = label;
        for (int d = 0; d < kCriteoDense; ++d)
          batch->dense[d][row] = dense[d];
        for (int c = 0; c < kCriteoCategorical; ++c)
          batch->category[c][row] = category[c];
        ++row;
      }
      ++line;
      pos = static_cast<size_t>(stop - file) + 1;
    }
    batch->rows = row;
    if (static_cast<size_t>(row) < capacity) {
      if (has_label_)
        batch->label.resize(static_cast<size_t>(row));
      for (auto& column : batch->dense)
        column.resize(static_cast<size_t>(row));
      for (auto& column : batch->category)
        column.resize(static_cast<size_t>(row));
    }
    batch->lines = line;
    return std::nullopt;
  }

 private:
  // Parses a plainly well-formed line starting at `p` into label/dense/category and returns
  // the position of its newline; nullptr if the line is anything else (the careful parser
  // then decides). A newline must follow `p` somewhere in memory: every read stops at it.
  const char* FastParseLine(const char* p, uint8_t* label, int64_t* dense,
                            int64_t* category) const {
    if (has_label_) {
      if ((p[0] != '0' && p[0] != '1') || p[1] != '\t')
        return nullptr;
      *label = static_cast<uint8_t>(p[0] - '0');
      p += 2;
    }
    for (int d = 0; d < kCriteoDense; ++d) {
      if (*p == '\t') {
        dense[d] = kMissingDense;
        ++p;
        continue;
      }
      const bool negative = *p == '-';
      if (negative)
        ++p;
      const char* digits = p;
      uint64_t value = 0;
      while (static_cast<unsigned>(*p - '0') < 10) {
        value = value * 10 + static_cast<unsigned>(*p - '0');
        ++p;
      }
      const auto count = p - digits;
      if (count == 0 || count > 18 || *p != '\t')
        return nullptr;
      dense[d] = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
      ++p;
    }
    for (int c = 0; c < kCriteoCategorical; ++c) {
      const char* digits = p;
      uint32_t value = 0;
      for (int8_t h; (h = kHexDigitValue[static_cast<unsigned char>(*p)]) >= 0; ++p) {
        value = (value << 4) | static_cast<uint32_t>(h);
      }
      const auto count = p - digits;
      if (count > 8)
        return nullptr;
      category[c] = count == 0 ? kMissingCategory : static_cast<int64_t>(value);
      if (*p != (c + 1 < kCriteoCategorical ? '\t' : '\n'))
        return nullptr;
      if (c + 1 < kCriteoCategorical)
        ++p;
    }
    return p;
  }

  std::optional<LineProblem> ParseLine(const char* start, const char* stop, bool has_newline,
                                       int64_t line, uint8_t* label_out, int64_t* dense,
                                       int64_t* category) {
    auto problem = [&](const char* at, std::string what) {
      return LineProblem{line, static_cast<int64_t>(at - start) + 1, std::move(what)};
    };
    if (stop > start && stop[-1] == '\r') {
      return problem(stop - 1,
                     "expected LF line endings, found CR LF (convert the file with dos2unix)");
    }
    if (!has_newline) {
      return problem(stop,
                     "expected a newline at the end of the line; the file ends mid-line "
                     "and looks truncated");
    }
    uint8_t label = 0;
    const char* field_start = start;
    for (int field = 0; field < fields_; ++field) {
      const char* field_end = field_start;
      while (field_end < stop && *field_end != '\t')
        ++field_end;
      const std::string_view text(field_start, static_cast<size_t>(field_end - field_start));
      const int index = has_label_ ? field - 1 : field;
      auto bad_field = [&](const char* expected) {
        return problem(field_start, fmt::format("{} (field {} of {}): expected {}, found {}",
                                                FieldName(field, has_label_), field + 1, fields_,
                                                expected, Shown(text)));
      };
      if (index < 0) {
        if (text != "0" && text != "1")
          return bad_field("label 0 or 1");
        label = text[0] == '1' ? 1 : 0;
      } else if (index < kCriteoDense) {
        if (text.empty()) {
          dense[index] = kMissingDense;
        } else if (const ParseStatus status = ParseInt64(text, &dense[index]);
                   status != ParseStatus::kOk || dense[index] == kMissingDense) {
          // INT64_MIN marks a missing value in this reader's columns: it is refused as out of
          // range rather than read as missing (the schema-driven reader keeps it).
          // 19-digit values fit int64 too; the fast path above stops at 18 and sends them here.
          return bad_field(status != ParseStatus::kInvalid
                               ? "an integer above -2^63 and below 2^63 (out of range)"
                               : "an integer or an empty field");
        }
      } else {
        int64_t& value = category[index - kCriteoDense];
        if (text.empty()) {
          value = kMissingCategory;
        } else if (!ParseHex32(text, &value)) {
          return bad_field("up to 8 hex digits or an empty field");
        }
      }
      if (field + 1 < fields_) {
        if (field_end == stop) {
          return problem(field_end, fmt::format("expected {} TAB-separated fields, found {}",
                                                fields_, field + 1));
        }
        field_start = field_end + 1;
      } else if (field_end != stop) {
        const int64_t found = fields_ + static_cast<int64_t>(std::count(field_end, stop, '\t'));
        return problem(field_end,
                       fmt::format("expected {} TAB-separated fields, found {}", fields_, found));
      }
    }
    *label_out = label;
    return std::nullopt;
  }

  bool has_label_;
  OnError on_error_;
  int fields_;
};

// Reads what the lines that start in [begin, end) span into `bytes`: from the byte before
// `begin` (which tells whether a line starts at `begin`) through the newline that ends the
// last of them, or the end of the file. Returns the file offset of bytes[0]. A copy into a
// buffer that stays in cache costs less than mapping the file (page faults, then dropping
// the pages again so that a file larger than memory does not stay resident).
size_t ReadRange(const ReadOnlyFile& file, size_t begin, size_t end,
                 UninitializedVector<char>* bytes) {
  const size_t from = begin == 0 ? 0 : begin - 1;
  size_t to = std::min(file.size(), end + kLongestLine);
  for (;;) {
    bytes->resize(to - from);
    file.Read(from, to - from, bytes->data());
    // The last line starting before `end` ends at the first newline from end - 1 on.
    const size_t last_start = end - 1 - from;
    if (to == file.size() ||
        std::memchr(bytes->data() + last_start, '\n', bytes->size() - last_start) != nullptr) {
      return from;
    }
    to = std::min(file.size(), to + 2 * (to - from));  // a line longer than kLongestLine
  }
}

bool DetectLabel(const ReadOnlyFile& file, LabelField setting) {
  if (setting != LabelField::kDetect)
    return setting == LabelField::kPresent;
  UninitializedVector<char> first_line;
  ReadRange(file, 0, 1, &first_line);
  const char* start = first_line.data();
  const void* nl = std::memchr(start, '\n', first_line.size());
  const char* stop = nl == nullptr ? start + first_line.size() : static_cast<const char*>(nl);
  const int64_t fields = 1 + std::count(start, stop, '\t');
  if (fields == kCriteoFields)
    return true;
  if (fields == kCriteoFields - 1)
    return false;
  ThrowAt(TextLocation{file.path(), 1, 0},
          "expected {} TAB-separated fields (label, I1..I13, C1..C26) or {} (without the "
          "label), found {}",
          kCriteoFields, kCriteoFields - 1, fields);
}

}  // namespace

OnError ParseOnError(const std::string& text) {
  if (text == "fail")
    return OnError::kFail;
  if (text == "skip")
    return OnError::kSkip;
  Throw(ErrorKind::kConfig, "on-error must be 'fail' or 'skip', got '{}'", text);
}

std::vector<int64_t> RowLines(const CriteoBatch& batch) {
  std::vector<int64_t> lines;
  lines.reserve(static_cast<size_t>(batch.rows));
  size_t next_reject = 0;
  for (int64_t line = batch.first_line; line < batch.first_line + batch.lines; ++line) {
    if (next_reject < batch.rejects.size() && batch.rejects[next_reject].line == line) {
      ++next_reject;
      continue;
    }
    lines.push_back(line - 1);
  }
  AIOK_ASSERT(static_cast<int64_t>(lines.size()) == batch.rows);
  return lines;
}

void NumberBatch(CriteoBatch& batch, CriteoReadSummary* summary) {
  batch.first_line = summary->lines + 1;
  batch.first_row = summary->rows;
  for (RejectedLine& reject : batch.rejects)
    reject.line += batch.first_line;
  summary->lines += batch.lines;
  summary->rows += batch.rows;
  summary->rejected += static_cast<int64_t>(batch.rejects.size());
}

int64_t CriteoBatchCount(int64_t bytes, const CriteoReaderOptions& options) {
  return (bytes + options.range_bytes - 1) / options.range_bytes;
}

CriteoReadSummary ReadCriteoTsv(const std::string& path, const CriteoReaderOptions& options,
                                const RunContext& ctx,
                                const std::function<void(CriteoBatch&)>& in_order,
                                const std::function<void(CriteoBatch&, int64_t)>& concurrently) {
  AIOK_CHECK(options.range_bytes > 0, ErrorKind::kConfig, "range_bytes must be positive");
  const ReadOnlyFile input(path);
  if (input.size() == 0) {
    ThrowAt(TextLocation{path, 0, 0},
            "file is empty: expected Criteo TSV rows (label, I1..I13, C1..C26)");
  }
  CriteoReadSummary summary;
  summary.bytes = static_cast<int64_t>(input.size());
  summary.has_label = DetectLabel(input, options.label);

  const auto range = static_cast<size_t>(options.range_bytes);
  const int64_t ranges = CriteoBatchCount(static_cast<int64_t>(input.size()), options);
  OrderedTurns turns;
  ParallelFor(ranges, ctx.threads, [&](int64_t index) {
    try {
      ctx.cancel->ThrowIfCancelled();
      const size_t begin = static_cast<size_t>(index) * range;
      const size_t end = std::min(input.size(), begin + range);
      UninitializedVector<char> bytes;
      const size_t from = ReadRange(input, begin, end, &bytes);
      CriteoBatch batch;
      RangeParser parser(summary.has_label, options.on_error);
      const std::optional<LineProblem> problem =
          parser.Parse(bytes.data(), bytes.size(), begin - from, end - from, &batch);
      turns.Commit(index, [&] {
        if (problem) {
          ThrowAt(TextLocation{path, summary.lines + 1 + problem->relative_line, problem->column},
                  "{}", problem->what);
        }
        NumberBatch(batch, &summary);
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

void ParseCriteoText(std::string_view text, bool has_label, OnError on_error,
                     const std::string& source, CriteoBatch* batch) {
  *batch = CriteoBatch{};
  if (text.empty())
    return;
  RangeParser parser(has_label, on_error);
  const std::optional<LineProblem> problem =
      parser.Parse(text.data(), text.size(), 0, text.size(), batch);
  if (problem)
    ThrowAt(TextLocation{source, 1 + problem->relative_line, problem->column}, "{}", problem->what);
  CriteoReadSummary summary;
  NumberBatch(*batch, &summary);
}

}  // namespace aiok::data
