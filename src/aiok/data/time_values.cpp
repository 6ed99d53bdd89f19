#include "aiok/data/time_values.h"

#include <fmt/format.h>

#include "aiok/core/error.h"
#include "aiok/data/value_parsing.h"

namespace aiok::data {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

bool LeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && LeapYear(year) ? 29 : kDays[month - 1];
}

// Floor division: times before 1970 fall on the day before, not toward zero.
int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace

TimeFormat ParseTimeFormat(const std::string& text, const std::string& where) {
  if (text == "epoch")
    return TimeFormat::kEpoch;
  if (text == "yymmddhh")
    return TimeFormat::kYymmddhh;
  Throw(ErrorKind::kConfig,
        "{}: time format '{}': expected epoch (seconds since 1970, or a timestamp field) or "
        "yymmddhh (Avazu's hour, 14102107 = 2014-10-21 07h)",
        where, text);
}

const char* TimeFormatName(TimeFormat format) {
  return format == TimeFormat::kEpoch ? "epoch" : "yymmddhh";
}

bool TimeFromInteger(int64_t value, TimeFormat format, int64_t* seconds, std::string* problem) {
  if (format == TimeFormat::kEpoch) {
    *seconds = value;
    return true;
  }
  if (value < 0 || value > 99999999) {
    *problem = "not 8 digits YYMMDDHH";
    return false;
  }
  const int64_t year = 2000 + value / 1000000;
  const auto month = static_cast<int>(value / 10000 % 100);
  const auto day = static_cast<int>(value / 100 % 100);
  const auto hour = static_cast<int>(value % 100);
  if (month < 1 || month > 12) {
    *problem = fmt::format("month {}", month);
    return false;
  }
  if (day < 1 || day > DaysInMonth(year, month)) {
    *problem = fmt::format("day {} of month {}", day, month);
    return false;
  }
  if (hour > 23) {
    *problem = fmt::format("hour {}", hour);
    return false;
  }
  *seconds = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
                 kSecondsPerDay +
             hour * 3600;
  return true;
}

CivilTime CivilFromSeconds(int64_t seconds) {
  // Howard Hinnant's civil_from_days.
  const int64_t days = FloorDiv(seconds, kSecondsPerDay);
  CivilTime t;
  t.hour = static_cast<int>((seconds - days * kSecondsPerDay) / 3600);
  t.weekday = static_cast<int>(1 + (days % 7 + 7 + 3) % 7);
  const int64_t z = days + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2 ? 1 : 0);
  return t;
}

std::string FormatTime(int64_t seconds) {
  const CivilTime t = CivilFromSeconds(seconds);
  const int64_t in_hour = seconds - FloorDiv(seconds, 3600) * 3600;
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour,
                     in_hour / 60, in_hour % 60);
}

}  // namespace aiok::data
