// Fast appends of numbers as text, for writers that emit millions of fields per second.
#pragma once

#include <cstdint>
#include <string>

namespace aiok::data {

/// Appends a base-10 integer (with '-' when negative).
inline void AppendInt(std::string& out, int64_t value) {
  char buffer[24];
  char* end = buffer + sizeof buffer;
  char* p = end;
  uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  do {
    *--p = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  if (value < 0)
    *--p = '-';
  out.append(p, end);
}

/// Appends exactly 8 lowercase hex digits.
inline void AppendHex8(std::string& out, uint32_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buffer[8];
  for (int i = 7; i >= 0; --i) {
    buffer[i] = kDigits[value & 0xF];
    value >>= 4;
  }
  out.append(buffer, 8);
}

}  // namespace aiok::data
