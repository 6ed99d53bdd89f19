// Parsing of single text fields, shared by the Criteo readers (TSV and Parquet).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace aiok::data {

/// A field's text for an error message: quoted, cut after 40 characters, on one line.
inline std::string Shown(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string shown(text.substr(0, kMax));
  for (char& c : shown) {
    if (c == '\r')
      c = ' ';  // keep the message on one line
  }
  return fmt::format("\"{}{}\"", shown, text.size() > kMax ? "..." : "");
}

/// 1 to 8 hex digits (either case) as a 32-bit value; `text` must not be empty.
inline bool ParseHex32(std::string_view text, int64_t* value) {
  if (text.size() > 8)
    return false;
  uint32_t v = 0;
  for (char c : text) {
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return false;
    }
    v = (v << 4) | digit;
  }
  *value = v;
  return true;
}

}  // namespace aiok::data
