// The layout of `aiok datagen tabular`'s mixed.csv: a comma-separated file with a header row,
// RFC 4180 quoting (a field holding a comma, a quote or a line break is quoted with `"`, and a
// quote inside it doubled), `\n` line ends, and these columns in this order:
//
//   y       int64      label       0 or 1; never missing
//   price   float64    dense       log-normal, two decimals
//   age     int64      dense       18..90
//   score   float64    dense       three decimals, often negative
//   big_id  uint64     categorical ids from a Zipf-like set, about half above 2^63
//   city    string     categorical 50 names, Zipf-like; some hold a comma
//   user    string     categorical "u<number>", --users of them, Zipf-like
//   device  string     categorical 12 names; some hold a comma or a quote
//   genres  list       multi-cat.  1 to 4 names of 20 joined by '|' (e.g. Comedy|Drama)
//   ts      timestamp  timestamp   "YYYY-MM-DD HH:MM:SS", rising with the row, 92 days from
//                                  2024-03-01
//
// A missing value is an empty field; every column but y has some. An empty genres field is
// a row without genres. mixed.parquet holds the same rows with the SQL types below.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace aiok::data {

/// Columns of mixed.csv, in file order.
enum TabularColumn : int {
  kTabY,
  kTabPrice,
  kTabAge,
  kTabScore,
  kTabBigId,
  kTabCity,
  kTabUser,
  kTabDevice,
  kTabGenres,
  kTabTs,
};
constexpr int kTabularColumns = 10;

/// What a column is, as datagen.json records it.
struct TabularColumnInfo {
  std::string_view name;
  std::string_view type;      ///< int64, uint64, float64, string, list<string> or timestamp
  std::string_view role;      ///< label, dense, categorical, multi-categorical or timestamp
  std::string_view sql_type;  ///< DuckDB type in mixed.parquet
  double missing_rate;        ///< expected fraction of empty fields
};

constexpr std::array<TabularColumnInfo, kTabularColumns> kTabularColumnInfo = {{
    {"y", "int64", "label", "INTEGER", 0.0},
    {"price", "float64", "dense", "DOUBLE", 0.05},
    {"age", "int64", "dense", "BIGINT", 0.08},
    {"score", "float64", "dense", "DOUBLE", 0.12},
    {"big_id", "uint64", "categorical", "UBIGINT", 0.02},
    {"city", "string", "categorical", "VARCHAR", 0.04},
    {"user", "string", "categorical", "VARCHAR", 0.10},
    {"device", "string", "categorical", "VARCHAR", 0.15},
    {"genres", "list<string>", "multi-categorical", "VARCHAR[]", 0.10},
    {"ts", "timestamp", "timestamp", "TIMESTAMP", 0.03},
}};

/// Separator of the values in a genres field.
constexpr char kTabularListSeparator = '|';

/// City names, most frequent first.
constexpr std::array<std::string_view, 50> kTabularCities = {{
    "Tokyo",        "Delhi",          "Shanghai",  "Sao Paulo",
    "Mexico City",  "Cairo",          "Mumbai",    "Beijing",
    "Dhaka",        "Osaka",          "New York",  "Karachi",
    "Buenos Aires", "Istanbul",       "Kolkata",   "Lagos",
    "Manila",       "Rio de Janeiro", "Guangzhou", "Los Angeles",
    "Moscow",       "Paris",          "Bogota",    "Jakarta",
    "Lima",         "Bangkok",        "Seoul",     "Nagoya",
    "London",       "Tehran",         "Chicago",   "Washington, D.C.",
    "Hong Kong",    "Madrid",         "Toronto",   "Berlin",
    "Sydney",       "Santiago",       "Singapore", "Barcelona",
    "St. John's",   "Rome",           "Nairobi",   "Athens",
    "Vienna",       "Lisbon",         "Oslo",      "Dublin",
    "Zurich",       "Portland, OR",
}};

/// Device names, most frequent first. Some need quoting in a CSV.
constexpr std::array<std::string_view, 12> kTabularDevices = {{
    "iPhone 15",
    "Galaxy S23",
    "Pixel 7, Pro",
    "Desktop",
    "the \"X\" phone",
    "iPad Air",
    "Redmi Note 12",
    "Moto G, 2022",
    "Smart TV \"55\"",
    "Galaxy Tab S8",
    "iPhone 13",
    "Other",
}};

/// Genre names, in the order they are listed within a field.
constexpr std::array<std::string_view, 20> kTabularGenres = {{
    "Action", "Adventure", "Animation", "Comedy", "Crime",   "Documentary", "Drama",
    "Family", "Fantasy",   "History",   "Horror", "Music",   "Mystery",     "Romance",
    "Sci-Fi", "Sport",     "Thriller",  "War",    "Western", "Kids",
}};

/// First timestamp of the file, seconds since 1970-01-01 00:00:00 (2024-03-01 00:00:00; no
/// time zone is written), and the span the rows cover.
constexpr int64_t kTabularTsStart = 1709251200;
constexpr int64_t kTabularTsSpan = 92 * 86400;

}  // namespace aiok::data
