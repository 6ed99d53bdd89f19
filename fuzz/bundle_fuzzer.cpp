// Fuzzes the JSON files a model bundle and a dataset directory are opened from: bundle.json
// (the manifest), schema.json (the dataset schema, with the input schema and feature layout)
// and pipeline.json (the fitted ETL state). The input is up to three documents separated by
// NUL bytes, in that order; a missing one is taken from a real bundle of the mixed-type
// table (fuzz/data/tabular). They are written to a bundle directory beside model.pt and
// metrics.json, and opened as `aiok predict` and `aiok serve` open a bundle: OpenBundle, then
// the serving pipeline (input schema, fitted operators, label mapping, feature layout).
//
// The manifest lists each payload file's size and XXH3 checksum. So that the fuzzer gets past
// them, a manifest that parses and lists a file gets that file's true size and checksum
// written in (the way PNG fuzzers fix CRCs); the rest of the manifest is as fuzzed.
//
// Checks, beyond "only aiok::Error refuses": a dataset schema that is read round-trips
// through ToJson; the serving pipeline describes its input (GET /v1/metadata).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/data/dataset.h"
#include "aiok/serving/bundle.h"
#include "aiok/serving/serving_pipeline.h"
#include "fuzz_common.h"

namespace {

using aiok::fuzz::Finding;
using aiok::fuzz::Guarded;

const std::string& Dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr ? tmp : "/tmp") + "/aiok_fuzz_bundle_" +
           std::to_string(getpid());
  }();
  return dir;
}

void Write(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

std::vector<std::string>& Defaults() {  // bundle.json, schema.json, pipeline.json
  static std::vector<std::string> defaults;
  return defaults;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string real = std::string(AIOK_FUZZ_DATA_DIR) + "/tabular";
  for (const char* name : {"bundle.json", "schema.json", "pipeline.json"})
    Defaults().push_back(aiok::ReadFile(real + "/" + name));
  std::filesystem::create_directories(Dir());
  // Stand-ins for the weights and the training metrics, which nothing here reads.
  Write(Dir() + "/model.pt", "not a libtorch archive");
  Write(Dir() + "/metrics.json", "{}\n");
  std::atexit([] { std::filesystem::remove_all(Dir()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  while (parts.size() < 2) {
    const size_t nul = in.find('\0');
    if (nul == std::string_view::npos)
      break;
    parts.emplace_back(in.substr(0, nul));
    in.remove_prefix(nul + 1);
  }
  parts.emplace_back(in);
  for (size_t i = parts.size(); i < 3; ++i)
    parts.push_back(Defaults()[i]);
  const std::string& dir = Dir();
  Write(dir + "/schema.json", parts[1]);
  Write(dir + "/pipeline.json", parts[2]);

  // The dataset schema, as aiok train and aiok bundle read it.
  Guarded("ReadDatasetSchema", [&] {
    const aiok::data::DatasetSchema schema = aiok::data::ReadDatasetSchema(dir);
    const nlohmann::json json = schema.ToJson();
    try {
      const aiok::data::DatasetSchema again = aiok::data::DatasetSchema::FromJson(json, "again");
      if (again.ToJson() != json)
        Finding("DatasetSchema does not round-trip: " + json.dump());
    } catch (const aiok::Error& e) {
      Finding(std::string("DatasetSchema refused what it wrote: ") + e.what());
    }
    (void)aiok::serving::RecordedInputSchema(json, "schema.json");
  });

  // The manifest, with the payload files' true sizes and checksums written in.
  std::string manifest = parts[0];
  try {
    nlohmann::json m = nlohmann::json::parse(manifest);
    if (m.is_object() && m.contains("files") && m["files"].is_object()) {
      for (auto& [name, entry] : m["files"].items()) {
        const std::string path = dir + "/" + name;
        if (name.find('/') != std::string::npos || !std::filesystem::is_regular_file(path))
          continue;
        entry = {{"bytes", static_cast<int64_t>(std::filesystem::file_size(path))},
                 {"xxh3_128", aiok::serving::FileChecksum(path)}};
      }
      manifest = m.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  } catch (const nlohmann::json::exception&) {
  }
  Write(dir + "/bundle.json", manifest);

  Guarded("OpenBundle", [&] {
    const aiok::serving::Bundle bundle = aiok::serving::OpenBundle(dir);
    const aiok::serving::ServingPipeline pipeline(bundle);
    (void)pipeline.InputDescription().dump();
    (void)pipeline.layout().ToJson().dump();
    (void)pipeline.RowSchema(false).ToYaml();
  });
  return 0;
}
