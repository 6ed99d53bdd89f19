// What every ETL records about its input: the source entry of schema.json, and the true
// probabilities that `aiok datagen` leaves beside the data it writes.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "aiok/data/mapped_file.h"

namespace aiok::etl {

/// DIR/truth.f32 beside `input` (one float per record), or null when absent or of another
/// size (with a warning).
std::unique_ptr<data::MappedFile> OpenTruth(const std::string& input, int64_t records);

/// The source entry of schema.json: absolute path, format, bytes, mtime (UTC, ISO 8601) and
/// lines (records), plus the truth file when there is one.
nlohmann::json SourceJson(const std::string& input, const std::string& format, int64_t bytes,
                          int64_t records, const data::MappedFile* truth);

}  // namespace aiok::etl
