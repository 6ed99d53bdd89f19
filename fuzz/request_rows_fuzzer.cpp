// Fuzzes what `aiok serve` does with a POST /v1/predict body, for two real bundles' inputs:
// the mixed-type table of `aiok datagen tabular` (CSV with quotes, a uint64 id, a list field,
// a timestamp) and Criteo's TSV layout (hex ids). Byte 0 picks the bundle; the rest is the
// body: JSON {"rows": [...]}, each row an object of named fields or a text line.
//
// As the server: the body is parsed with nlohmann::json (a parse error is a 400), the rows
// with ParseRequestRows and the features with the bundle's fitted transform. Checks: only
// aiok::Error refuses a request (anything else would be a 500), the row batch is consistent,
// and the features have one row per request row with every id inside its table.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/serving/bundle.h"
#include "aiok/serving/request_rows.h"
#include "aiok/serving/serving_pipeline.h"
#include "fuzz_common.h"

namespace {

struct Served {
  std::unique_ptr<aiok::serving::ServingPipeline> pipeline;
  std::vector<bool> targets;  // the label and weight columns, which a request leaves empty
};

std::vector<Served>& Bundles() {
  static std::vector<Served> bundles;
  return bundles;
}

Served Load(const std::string& dir) {
  aiok::serving::Bundle bundle;
  bundle.dir = dir;
  bundle.schema = nlohmann::json::parse(aiok::ReadFile(dir + "/schema.json"));
  bundle.pipeline_state = nlohmann::json::parse(aiok::ReadFile(dir + "/pipeline.json"));
  Served served;
  served.pipeline = std::make_unique<aiok::serving::ServingPipeline>(bundle);
  for (const auto& field : served.pipeline->input_schema().fields) {
    served.targets.push_back(field.role == aiok::data::FieldRole::kLabel ||
                             field.role == aiok::data::FieldRole::kWeight);
  }
  return served;
}

void CheckFeatures(const aiok::data::FeatureBatch& features, int64_t rows,
                   const aiok::data::FeatureLayout& layout) {
  using aiok::fuzz::Finding;
  if (features.rows != rows)
    Finding("Transform: " + std::to_string(features.rows) + " feature rows for " +
            std::to_string(rows) + " request rows");
  if (rows == 0)
    return;
  const int64_t width = layout.categorical_width();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < width; ++c) {
      const int32_t id = features.categorical[r * width + c];
      if (id < 0 || id >= layout.categorical[static_cast<size_t>(c)].cardinality)
        Finding("Transform: categorical id " + std::to_string(id) + " outside table " +
                layout.categorical[static_cast<size_t>(c)].name);
    }
  }
  if (features.jagged.size() != layout.jagged.size())
    Finding("Transform: jagged fields do not match the layout");
  for (size_t j = 0; j < layout.jagged.size(); ++j) {
    const aiok::data::JaggedIds& ids = features.jagged[j];
    for (int64_t r = 0; r < rows; ++r) {
      if (ids.offsets[r] > ids.offsets[r + 1])
        Finding("Transform: jagged offsets decrease");
    }
    for (int64_t i = ids.offsets[0]; i < ids.offsets[rows]; ++i) {
      if (ids.values[i] < 0 || ids.values[i] >= layout.jagged[j].cardinality)
        Finding("Transform: jagged id outside table " + layout.jagged[j].name);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  for (const char* name : {"tabular", "criteo"})
    Bundles().push_back(Load(std::string(AIOK_FUZZ_DATA_DIR) + "/" + name));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return -1;
  const Served& served = Bundles()[data[0] % Bundles().size()];
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  nlohmann::json request;
  try {
    request = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error&) {
    return 0;  // 400 malformed JSON
  } catch (const nlohmann::json::out_of_range&) {
    // A number beyond double ("1e999"): nlohmann throws out_of_range.406, not parse_error,
    // and the server, which catches only parse_error, answers 500. Reported (http_server.cpp
    // is not the fuzzer's to fix); skipped here so that fuzzing reaches the row parser.
    return 0;
  }
  const aiok::serving::ServingPipeline& pipeline = *served.pipeline;
  aiok::fuzz::Guarded("request", [&] {
    aiok::data::TableBatch table = aiok::serving::ParseRequestRows(request, 1000, pipeline);
    aiok::fuzz::CheckBatch(table, pipeline.input_schema().fields.size(), "ParseRequestRows",
                           served.targets);
    const int64_t rows = table.rows;
    if (rows == 0 && aiok::fuzz::SkipKnown())
      return;  // open: TableTransformer::Transform on 0 rows offsets a null pointer
    const aiok::data::FeatureBatch features =
        pipeline.Transform(std::move(table), pipeline.input_schema());
    CheckFeatures(features, rows, pipeline.layout());
  });
  return 0;
}
