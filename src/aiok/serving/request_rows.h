// The rows of a prediction request: JSON {"rows": [...]} where a row is a raw Criteo TSV line
// without the label ("5\t\t3\t...\t68fd1e64\t...") or an object of named fields
// ({"I1": 5, "C1": "68fd1e64", ...}; absent, null or "" fields are missing).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "aiok/data/criteo_reader.h"

namespace aiok::serving {

/// Parses the request's rows into a batch without labels. Throws Error(kInvalidInput) naming
/// the row (0-based, as in the request's array) and the field for anything malformed, and
/// Error(kTooLarge) for more than `max_rows` rows.
data::CriteoBatch ParseRequestRows(const nlohmann::json& request, int64_t max_rows);

}  // namespace aiok::serving
