// The rows of a prediction request: JSON {"rows": [...]} where a row is an object of named
// fields of the model's input ({"price": 9.5, "city": "Paris", "genres": ["Comedy"]}; absent,
// null or "" fields are missing) or one text line in the input's own format without the label
// (a Criteo TSV line, a CSV line).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "aiok/data/table_batch.h"
#include "aiok/serving/serving_pipeline.h"

namespace aiok::serving {

/// Parses the request's rows into a batch of `pipeline`'s input schema (label column empty).
/// Throws Error(kInvalidInput) naming the row (0-based, as in the request's array) and the
/// field for anything malformed, and Error(kTooLarge) for more than `max_rows` rows.
data::TableBatch ParseRequestRows(const nlohmann::json& request, int64_t max_rows,
                                  const ServingPipeline& pipeline);

}  // namespace aiok::serving
