// Integers that mean a point in time, and the calendar parts of one. Shared by the time split
// (data/splits.h) and the ETL's datetime_parts operator, so both read a field's times alike.
//
// Two ways an integer field can hold a time:
//   epoch     seconds since 1970-01-01 UTC — also what a field of type `timestamp` holds
//             after parsing ("2014-10-21 07:00:00" or an integer of epoch seconds);
//   yymmddhh  Avazu's hour column: 14102107 is 2014-10-21, 07:00 (YY is 20YY).
#pragma once

#include <cstdint>
#include <string>

namespace aiok::data {

enum class TimeFormat { kEpoch, kYymmddhh };

/// "epoch" or "yymmddhh"; anything else throws Error(kConfig) naming `where`.
TimeFormat ParseTimeFormat(const std::string& text, const std::string& where);
const char* TimeFormatName(TimeFormat format);

/// Seconds since the epoch of `value` written in `format`. False when it is not a time in
/// that format, with what is wrong in *problem ("month 13", "hour 25").
bool TimeFromInteger(int64_t value, TimeFormat format, int64_t* seconds, std::string* problem);

/// A point in time split into calendar parts (UTC, proleptic Gregorian).
struct CivilTime {
  int64_t year = 1970;
  int month = 1;    ///< 1..12
  int day = 1;      ///< 1..31
  int hour = 0;     ///< 0..23
  int weekday = 4;  ///< 1 (Monday) .. 7 (Sunday); 1970-01-01 was a Thursday
};
CivilTime CivilFromSeconds(int64_t seconds);

/// "2014-10-21 07:00:00" for a time in seconds since the epoch.
std::string FormatTime(int64_t seconds);

}  // namespace aiok::data
