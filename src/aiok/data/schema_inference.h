// `aiok schema infer`: a TableSchema guessed from the start of a file, for a person to check
// and edit. Text files: separator, header, quoting and list fields are detected, each field's
// type is the narrowest that every sampled value parses as (int64, uint64, float64,
// timestamp, hex ids, string), and roles follow from types and names. Parquet files: types
// come from the file's own schema (through DuckDB).
#pragma once

#include <cstdint>
#include <string>

#include "aiok/data/schema.h"

namespace aiok::data {

struct InferOptions {
  /// The label field; empty: a field named label, y, target, click or clicked, if any.
  std::string label;
  /// Bytes read from the start of a text file to infer from.
  int64_t sample_bytes = int64_t{4} << 20;
  int threads = 1;
};

/// Infers the schema of `path`. Throws Error(kIo) for a missing file, Error(kInvalidInput)
/// for an empty one, and Error(kConfig) for a --label that names no field (with the closest).
TableSchema InferSchema(const std::string& path, const InferOptions& options);

}  // namespace aiok::data
