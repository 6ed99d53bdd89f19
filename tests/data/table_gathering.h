// A read's batches gathered into whole columns, for tests that compare reads of the same rows
// (text against Parquet, one range size against another, quoted against unquoted).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"

namespace aiok::data {

/// The accepted rows of a read, per schema field, missing values as nullopt. Integer fields
/// (int64, timestamp) fill `ints`, uint64 fields `uints`; other fields are not gathered.
struct GatheredTable {
  int64_t rows = 0;
  std::vector<std::vector<std::optional<int64_t>>> ints;
  std::vector<std::vector<std::optional<uint64_t>>> uints;
  std::vector<RejectedRecord> rejects;

  /// Appends a batch; batches must come in file order.
  void Append(const TableBatch& batch) {
    EXPECT_EQ(batch.first_row, rows) << "batches arrive in file order";
    ints.resize(batch.columns.size());
    uints.resize(batch.columns.size());
    for (size_t f = 0; f < batch.columns.size(); ++f) {
      const ColumnValues& column = batch.columns[f];
      EXPECT_FALSE(column.type.list) << "field " << f << ": lists are not gathered";
      EXPECT_EQ(column.valid.size(), static_cast<size_t>(batch.rows)) << "field " << f;
      for (size_t r = 0; r < static_cast<size_t>(batch.rows); ++r) {
        const bool valid = column.valid[r] != 0;
        switch (column.type.value) {
          case ValueType::kInt64:
          case ValueType::kTimestamp:
            ints[f].push_back(valid ? std::optional<int64_t>(column.ints[r]) : std::nullopt);
            break;
          case ValueType::kUInt64:
            uints[f].push_back(valid ? std::optional<uint64_t>(column.uints[r]) : std::nullopt);
            break;
          case ValueType::kFloat64:
          case ValueType::kString:
            break;
        }
      }
    }
    rows += batch.rows;
    rejects.insert(rejects.end(), batch.rejects.begin(), batch.rejects.end());
  }
};

/// Expects the same rows and values, naming the first row that differs in each field.
inline void ExpectSameColumns(const GatheredTable& actual, const GatheredTable& expected,
                              const TableSchema& schema, const std::string& what) {
  ASSERT_EQ(actual.rows, expected.rows) << what;
  ASSERT_EQ(actual.ints.size(), schema.fields.size()) << what;
  ASSERT_EQ(expected.ints.size(), schema.fields.size()) << what;
  auto first_difference = [](const auto& a, const auto& b) {
    for (size_t r = 0; r < a.size() && r < b.size(); ++r) {
      if (a[r] != b[r])
        return r;
    }
    return a.size() == b.size() ? SIZE_MAX : std::min(a.size(), b.size());
  };
  auto shown = [](const auto& value) {
    return value ? std::to_string(*value) : std::string("missing");
  };
  for (size_t f = 0; f < schema.fields.size(); ++f) {
    const std::string& name = schema.fields[f].name;
    const size_t i = first_difference(actual.ints[f], expected.ints[f]);
    if (i != SIZE_MAX) {
      ADD_FAILURE() << what << ": " << name << " differs first at row " << i << ": "
                    << (i < actual.ints[f].size() ? shown(actual.ints[f][i]) : "no row")
                    << " instead of "
                    << (i < expected.ints[f].size() ? shown(expected.ints[f][i]) : "no row");
    }
    const size_t u = first_difference(actual.uints[f], expected.uints[f]);
    if (u != SIZE_MAX) {
      ADD_FAILURE() << what << ": " << name << " differs first at row " << u << ": "
                    << (u < actual.uints[f].size() ? shown(actual.uints[f][u]) : "no row")
                    << " instead of "
                    << (u < expected.uints[f].size() ? shown(expected.uints[f][u]) : "no row");
    }
  }
}

/// Missing values among `table`'s gathered values, to check that a comparison covers them.
inline int64_t CountMissing(const GatheredTable& table) {
  int64_t missing = 0;
  for (const auto& column : table.ints) {
    for (const auto& value : column)
      missing += value ? 0 : 1;
  }
  for (const auto& column : table.uints) {
    for (const auto& value : column)
      missing += value ? 0 : 1;
  }
  return missing;
}

}  // namespace aiok::data
