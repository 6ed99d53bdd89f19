// Parsing one value's text as a typed value: integers over their whole range ("out of range"
// beyond it), unsigned 64-bit ids, hex ids, reals, and timestamps. Shared by the text reader,
// JSON requests and schema inference, so all of them accept exactly the same texts.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace aiok::data {

enum class ParseStatus { kOk, kInvalid, kOutOfRange };

/// The value of a hex digit (either case), -1 for any other byte: a table, for parsers that
/// read hex ids by the million.
extern const std::array<int8_t, 256> kHexDigitValue;

/// An optional sign and decimal digits, in [INT64_MIN, INT64_MAX].
ParseStatus ParseInt64(std::string_view text, int64_t* value);
/// An optional '+' and decimal digits, in [0, UINT64_MAX].
ParseStatus ParseUInt64(std::string_view text, uint64_t* value);
/// 1 to 16 hex digits, either case.
ParseStatus ParseHex64(std::string_view text, uint64_t* value);
/// A decimal or scientific real, "inf" or "nan" (any case), with an optional sign.
ParseStatus ParseFloat64(std::string_view text, double* value);
/// "YYYY-MM-DD", optionally followed by ' ' or 'T' and "HH:MM", ":SS", ".fraction" and 'Z',
/// as seconds since 1970-01-01 UTC (fractions dropped); or an integer of epoch seconds.
ParseStatus ParseTimestamp(std::string_view text, int64_t* seconds);

/// A value's text for an error message: quoted, cut after 40 characters, on one line.
std::string Shown(std::string_view text);

/// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace aiok::data
