// Fuzzes the YAML/JSON config files a user writes: pipelines (--pipeline P.yaml, the shipped
// presets) and table schemas (--schema S.yaml, `aiok schema infer` output). The input is the
// file's text; it goes through ParseConfigText and then both readers.
//
// Checks, beyond "only aiok::Error refuses": a pipeline that parses round-trips through
// ToJson, and binds (operator options checked) to the columns of two real inputs; a schema
// that parses round-trips through ToJson and through ToYaml, the text a person edits.
#include <cstdint>
#include <regex>
#include <string>

#include "aiok/core/config.h"
#include "aiok/data/schema.h"
#include "aiok/etl/field_binding.h"
#include "aiok/etl/pipeline.h"
#include "fuzz_common.h"

namespace {

using aiok::data::TableSchema;
using aiok::fuzz::Finding;
using aiok::fuzz::Guarded;

// Fields like those of `aiok datagen tabular` and Criteo's, to bind pipelines to.
TableSchema Tabular() {
  return TableSchema::FromJson(
      nlohmann::json::parse(R"({"fields": [
        {"name": "y", "role": "label", "type": "int64"},
        {"name": "price", "role": "dense", "type": "float64"},
        {"name": "age", "role": "dense", "type": "int64"},
        {"name": "big_id", "role": "categorical", "type": "uint64"},
        {"name": "city", "role": "categorical", "type": "string"},
        {"name": "genres", "role": "multi_categorical", "type": "list<string>"},
        {"name": "history", "role": "sequence", "type": "list<int64>"},
        {"name": "ts", "role": "timestamp", "type": "timestamp"}]})"),
      "tabular");
}

// A round trip of something aiok accepted must be accepted again.
template <typename Body>
void MustAccept(const char* what, Body&& body) {
  try {
    body();
  } catch (const aiok::Error& e) {
    Finding(std::string(what) + ": refused what it wrote: " + e.what());
  }
}

void CheckPipeline(const aiok::etl::PipelineSpec& spec) {
  const nlohmann::json json = spec.ToJson();
  MustAccept("PipelineSpec", [&] {
    const aiok::etl::PipelineSpec again = aiok::etl::PipelineSpec::FromJson(json, "round trip");
    if (again.ToJson() != json)
      Finding("PipelineSpec does not round-trip: " + json.dump() + " vs " + again.ToJson().dump());
  });
  static const TableSchema tabular = Tabular();
  static const TableSchema criteo = aiok::data::CriteoTableSchema(true);
  for (const TableSchema* schema : {&tabular, &criteo}) {
    Guarded("Pipeline", [&] {
      aiok::etl::Pipeline pipeline(spec, aiok::etl::DenseFieldNames(*schema),
                                   aiok::etl::CategoricalFieldNames(*schema), "fuzz");
      pipeline.FinishFitFreeOperators();
      (void)pipeline.SaveState().dump();
    });
  }
}

void CheckSchema(const TableSchema& schema) {
  const nlohmann::json json = schema.ToJson();
  MustAccept("TableSchema JSON", [&] {
    const TableSchema from_json = TableSchema::FromJson(json, "round trip");
    if (from_json.ToJson() != json)
      Finding("TableSchema does not round-trip through JSON: " + json.dump());
  });
  const std::string yaml = schema.ToYaml();
  MustAccept("TableSchema YAML", [&] {
    const TableSchema from_yaml =
        TableSchema::FromJson(aiok::ParseConfigText(yaml, "yaml"), "yaml");
    if (from_yaml.ToJson() != json)
      Finding("TableSchema does not round-trip through YAML:\n" + yaml + "\nread back as " +
              from_yaml.ToJson().dump());
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Open: a column range of a hundred thousand names or more (C1..C2147483647) overflows or exhausts
  // ExpandColumns (etl/pipeline.cpp); step around it when asked to.
  static const std::regex kWideRange("[A-Za-z_]+[0-9]+\\.\\.[A-Za-z_]+[0-9]{6,}");
  if (aiok::fuzz::SkipKnown() && std::regex_search(text, kWideRange))
    return -1;
  nlohmann::json json;
  if (!Guarded("ParseConfigText", [&] { json = aiok::ParseConfigText(text, "fuzz.yaml"); }))
    return 0;
  Guarded("ToYaml", [&] { (void)aiok::ToYaml(json); });
  Guarded("PipelineSpec", [&] {
    const aiok::etl::PipelineSpec spec = aiok::etl::PipelineSpec::FromJson(json, "fuzz.yaml");
    CheckPipeline(spec);
  });
  Guarded("TableSchema", [&] {
    const TableSchema schema = TableSchema::FromJson(json, "fuzz.yaml");
    CheckSchema(schema);
  });
  return 0;
}
