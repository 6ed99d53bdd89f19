// What every aiok fuzz harness shares: the rule that tells a finding from a rejected input,
// and checks of the batches the readers hand on.
//
// A harness feeds bytes to a parser that takes outside input. Throwing aiok::Error is how
// such a parser refuses bad input: that is a pass. Anything else escaping is a finding, and
// the harness aborts so that libFuzzer saves the input:
//   - a std::exception that is not an aiok::Error (a raw std::out_of_range, a
//     nlohmann::json::type_error): the CLI would print a message without file or field,
//     the server would answer 500 instead of 400;
//   - a batch whose columns disagree with its row count (checked below);
//   - and, through the sanitizers, any memory error, leak or undefined behaviour.
//
// AIOK_FUZZ_SKIP_KNOWN=1 in the environment lets the open findings of fuzz/README.md pass
// (raw nlohmann::json and std::stoi exceptions in code the fuzzing work does not own; the
// harnesses step around the others), so that a long run can look for new ones.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/data/table_batch.h"

namespace aiok::fuzz {

[[noreturn]] inline void Finding(const std::string& what) {
  std::fprintf(stderr, "aiok fuzz finding: %s\n", what.c_str());
  std::abort();
}

inline bool SkipKnown() {
  static const bool lenient = [] {
    const char* v = std::getenv("AIOK_FUZZ_SKIP_KNOWN");
    return v != nullptr && v[0] == '1';
  }();
  return lenient;
}

/// Runs `body`; returns true when it finished, false when it refused the input with an
/// aiok::Error; aborts on anything else (see above).
template <typename Body>
bool Guarded(const char* stage, Body&& body) {
  try {
    body();
    return true;
  } catch (const aiok::Error& e) {
    // An internal error is a broken invariant, never a refusal of input.
    if (e.kind() == ErrorKind::kInternal)
      Finding(std::string(stage) + ": internal error: " + e.what());
    // The message goes into a JSON error body (serve) or a terminal (CLI): it must be
    // printable. The server dumps with error_handler_t::replace, so invalid UTF-8 is allowed.
    (void)nlohmann::json{{"error", e.what()}}.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
    return false;
  } catch (const nlohmann::json::exception& e) {
    if (SkipKnown())
      return false;
    Finding(std::string(stage) + ": raw nlohmann::json exception: " + e.what());
  } catch (const std::exception& e) {
    if (SkipKnown() && std::string(e.what()) == "stoi")
      return false;  // etl/pipeline.cpp ExpandColumns, open
    Finding(std::string(stage) + ": non-aiok exception: " + e.what());
  }
}

/// Checks that every column of `batch` holds exactly one value (or list) per accepted row, as
/// its consumers (the ETL transform, predict, serve) assume.
/// `skip[f]` leaves column f out (serve leaves the label's column empty).
inline void CheckBatch(const data::TableBatch& batch, size_t fields, const char* stage,
                       const std::vector<bool>& skip = {}) {
  auto fail = [&](size_t f, const std::string& what) {
    Finding(std::string(stage) + ": column " + std::to_string(f) + ": " + what);
  };
  if (batch.rows < 0 || batch.records < batch.rows)
    Finding(std::string(stage) + ": rows " + std::to_string(batch.rows) + " > records " +
            std::to_string(batch.records));
  if (batch.columns.size() != fields && !(batch.rows == 0 && batch.columns.empty()))
    Finding(std::string(stage) + ": " + std::to_string(batch.columns.size()) +
            " columns for " + std::to_string(fields) + " fields");
  if (static_cast<int64_t>(batch.rejects.size()) != batch.records - batch.rows)
    Finding(std::string(stage) + ": rejects do not add up");
  const auto rows = static_cast<size_t>(batch.rows);
  for (size_t f = 0; f < batch.columns.size(); ++f) {
    if (f < skip.size() && skip[f])
      continue;
    const data::ColumnValues& c = batch.columns[f];
    if (c.valid.size() != rows)
      fail(f, "valid has " + std::to_string(c.valid.size()) + " entries");
    size_t values = rows;
    if (c.type.list) {
      if (c.list_offsets.size() != rows + 1)
        fail(f, "list_offsets has " + std::to_string(c.list_offsets.size()) + " entries");
      for (size_t r = 0; r < rows; ++r) {
        if (c.list_offsets[r] > c.list_offsets[r + 1])
          fail(f, "list offsets decrease");
      }
      values = static_cast<size_t>(c.list_offsets.back());
    }
    if (c.values() != values)
      fail(f, std::to_string(c.values()) + " values for " + std::to_string(values));
    if (c.type.value == data::ValueType::kString) {
      if (!c.ends.empty() && c.ends.back() != c.bytes.size())
        fail(f, "string ends do not cover the bytes");
      for (size_t i = 1; i < c.ends.size(); ++i) {
        if (c.ends[i - 1] > c.ends[i])
          fail(f, "string ends decrease");
      }
    }
  }
  (void)batch.RowRecords();  // asserts the rejects' record numbers fit the counts
}

}  // namespace aiok::fuzz
