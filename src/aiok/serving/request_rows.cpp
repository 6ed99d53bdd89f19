#include "aiok/serving/request_rows.h"

#include "aiok/core/error.h"

namespace aiok::serving {

data::TableBatch ParseRequestRows(const nlohmann::json& request, int64_t max_rows,
                                  const ServingPipeline& pipeline) {
  AIOK_CHECK(request.is_object() && request.contains("rows") && request.at("rows").is_array(),
             ErrorKind::kInvalidInput, "expected a JSON object with an array \"rows\"");
  const nlohmann::json& rows = request.at("rows");
  AIOK_CHECK(static_cast<int64_t>(rows.size()) <= max_rows, ErrorKind::kTooLarge,
             "{} rows in one request; the limit is {} (--max-rows)", rows.size(), max_rows);
  return pipeline.ParseJsonRows(rows);
}

}  // namespace aiok::serving
