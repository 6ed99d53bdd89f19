#include "aiok/data/value_parsing.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace aiok::data {
namespace {

bool IsDigit(char c) { return static_cast<unsigned>(c - '0') < 10; }

// Reads exactly `n` digits at text[*i] as a number.
bool Digits(std::string_view text, size_t* i, size_t n, unsigned* out) {
  if (*i + n > text.size())
    return false;
  unsigned v = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = text[*i + k];
    if (!IsDigit(c))
      return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

bool EqualsIgnoringCase(std::string_view text, std::string_view word) {
  if (text.size() != word.size())
    return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((text[i] | 0x20) != word[i])
      return false;
  }
  return true;
}

}  // namespace

ParseStatus ParseUInt64(std::string_view text, uint64_t* value) {
  size_t i = 0;
  if (!text.empty() && text[0] == '+')
    i = 1;
  if (i == text.size())
    return ParseStatus::kInvalid;
  // 19 digits cannot overflow 64 bits: check overflow only past them (a division per digit
  // cost more than the rest of the parse).
  const size_t safe_end = std::min(text.size(), i + 19);
  uint64_t v = 0;
  for (; i < safe_end; ++i) {
    const auto digit = static_cast<unsigned>(text[i] - '0');
    if (digit > 9)
      return ParseStatus::kInvalid;
    v = v * 10 + digit;
  }
  bool overflow = false;
  for (; i < text.size(); ++i) {
    const auto digit = static_cast<unsigned>(text[i] - '0');
    if (digit > 9)
      return ParseStatus::kInvalid;  // "99999999999999999999x" is not a number at all
    overflow |= __builtin_mul_overflow(v, uint64_t{10}, &v) || __builtin_add_overflow(v, digit, &v);
  }
  if (overflow)
    return ParseStatus::kOutOfRange;
  *value = v;
  return ParseStatus::kOk;
}

ParseStatus ParseInt64(std::string_view text, int64_t* value) {
  const bool negative = !text.empty() && text[0] == '-';
  uint64_t magnitude = 0;
  const ParseStatus status = ParseUInt64(negative ? text.substr(1) : text, &magnitude);
  if (status != ParseStatus::kOk)
    return status;
  if (negative && text.size() > 1 && text[1] == '+')
    return ParseStatus::kInvalid;  // "-+5"
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (magnitude > limit)
    return ParseStatus::kOutOfRange;
  *value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return ParseStatus::kOk;
}

namespace {
constexpr std::array<int8_t, 256> MakeHexTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table)
    v = -1;
  for (int i = 0; i < 10; ++i)
    table['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    table['a' + i] = static_cast<int8_t>(10 + i);
    table['A' + i] = static_cast<int8_t>(10 + i);
  }
  return table;
}
}  // namespace

const std::array<int8_t, 256> kHexDigitValue = MakeHexTable();

ParseStatus ParseHex64(std::string_view text, uint64_t* value) {
  if (text.empty())
    return ParseStatus::kInvalid;
  uint64_t v = 0;
  for (char c : text) {
    const int8_t digit = kHexDigitValue[static_cast<unsigned char>(c)];
    if (digit < 0)
      return ParseStatus::kInvalid;
    v = (v << 4) | static_cast<uint64_t>(digit);
  }
  if (text.size() > 16)
    return ParseStatus::kOutOfRange;
  *value = v;
  return ParseStatus::kOk;
}

ParseStatus ParseFloat64(std::string_view text, double* value) {
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty() || body[0] == '+' || body[0] == '-')
    return ParseStatus::kInvalid;
  if (EqualsIgnoringCase(body, "inf") || EqualsIgnoringCase(body, "infinity")) {
    *value = negative ? -HUGE_VAL : HUGE_VAL;
    return ParseStatus::kOk;
  }
  if (EqualsIgnoringCase(body, "nan")) {
    *value = std::numeric_limits<double>::quiet_NaN();
    return ParseStatus::kOk;
  }
  double v = 0;
  const auto [end, error] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (end != body.data() + body.size())
    return ParseStatus::kInvalid;
  if (error == std::errc::result_out_of_range) {
    // from_chars leaves the value alone; strtod tells overflow (HUGE_VAL) from underflow (a
    // tiny or zero value, which is a fine real).
    v = std::strtod(std::string(body).c_str(), nullptr);
    if (std::isinf(v))
      return ParseStatus::kOutOfRange;
  } else if (error != std::errc()) {
    return ParseStatus::kInvalid;
  }
  *value = negative ? -v : v;
  return ParseStatus::kOk;
}

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  // Howard Hinnant's days_from_civil.
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

ParseStatus ParseTimestamp(std::string_view text, int64_t* seconds) {
  if (text.size() < 10 || text[4] != '-')
    return ParseInt64(text, seconds);  // epoch seconds
  size_t i = 0;
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(text, &i, 4, &year) || text[i++] != '-' || !Digits(text, &i, 2, &month) ||
      i >= text.size() || text[i++] != '-' || !Digits(text, &i, 2, &day)) {
    return ParseStatus::kInvalid;
  }
  if (i < text.size()) {
    if (text[i] != ' ' && text[i] != 'T')
      return ParseStatus::kInvalid;
    ++i;
    if (!Digits(text, &i, 2, &hour) || i >= text.size() || text[i++] != ':' ||
        !Digits(text, &i, 2, &minute)) {
      return ParseStatus::kInvalid;
    }
    if (i < text.size() && text[i] == ':') {
      ++i;
      if (!Digits(text, &i, 2, &second))
        return ParseStatus::kInvalid;
      if (i < text.size() && text[i] == '.') {
        ++i;
        const size_t fraction = i;
        while (i < text.size() && IsDigit(text[i]))
          ++i;
        if (i == fraction)
          return ParseStatus::kInvalid;
      }
    }
    if (i < text.size() && text[i] == 'Z')
      ++i;
    if (i != text.size())
      return ParseStatus::kInvalid;
  }
  static constexpr unsigned kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDaysIn[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 60) {
    return ParseStatus::kOutOfRange;
  }
  *seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return ParseStatus::kOk;
}

std::string Shown(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string shown(text.substr(0, kMax));
  for (char& c : shown) {
    if (c == '\r' || c == '\n')
      c = ' ';  // keep the message on one line
  }
  return "\"" + shown + (text.size() > kMax ? "...\"" : "\"");
}

}  // namespace aiok::data
