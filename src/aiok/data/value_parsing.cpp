#include "aiok/data/value_parsing.h"

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
  uint64_t v = 0;
  for (; i < text.size(); ++i) {
    if (!IsDigit(text[i]))
      return ParseStatus::kInvalid;
    const auto digit = static_cast<uint64_t>(text[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      // Still say "invalid" for a later non-digit: "99999999999999999999x" is not a number.
      for (++i; i < text.size(); ++i) {
        if (!IsDigit(text[i]))
          return ParseStatus::kInvalid;
      }
      return ParseStatus::kOutOfRange;
    }
    v = v * 10 + digit;
  }
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

ParseStatus ParseHex64(std::string_view text, uint64_t* value) {
  if (text.empty())
    return ParseStatus::kInvalid;
  uint64_t v = 0;
  for (char c : text) {
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      digit = static_cast<unsigned>((c | 0x20) - 'a' + 10);
    } else {
      return ParseStatus::kInvalid;
    }
    v = (v << 4) | digit;
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

}  // namespace aiok::data
