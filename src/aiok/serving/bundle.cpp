#include "aiok/serving/bundle.h"

#include <xxhash.h>

#include <algorithm>
#include <filesystem>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/json_fields.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/positional_io.h"
#include "aiok/data/dataset.h"
#include "aiok/serving/serving_pipeline.h"

namespace aiok::serving {
namespace {
namespace fs = std::filesystem;

// The files besides bundle.json, in the order the manifest lists them.
const std::vector<std::string>& PayloadFiles() {
  static const std::vector<std::string> files = {"model.pt", "pipeline.json", "schema.json",
                                                 "metrics.json"};
  return files;
}

nlohmann::json ParseJsonFile(const std::string& path) {
  return ParseJsonText(ReadFile(path), path);
}

void CopyFile(const std::string& from, const std::string& to) {
  AIOK_CHECK(fs::exists(from), ErrorKind::kIo, "{} is missing", from);
  std::error_code error;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
  AIOK_CHECK(!error, ErrorKind::kIo, "cannot copy {} to {}: {}", from, to, error.message());
}

}  // namespace

std::string FileChecksum(const std::string& path) {
  const ReadOnlyFile file(path);
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  std::vector<char> buffer(size_t{1} << 20);
  for (size_t offset = 0; offset < file.size(); offset += buffer.size()) {
    const size_t n = std::min(buffer.size(), file.size() - offset);
    file.Read(offset, n, buffer.data());
    XXH3_128bits_update(state, buffer.data(), n);
  }
  const XXH128_hash_t hash = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return fmt::format("{:016x}{:016x}", hash.high64, hash.low64);
}

nlohmann::json WriteBundle(const std::string& dataset_dir, const std::string& model_dir,
                           const std::string& out_dir) {
  const data::DatasetSchema schema = data::ReadDatasetSchema(dataset_dir);
  const nlohmann::json metrics = ParseJsonFile(model_dir + "/metrics.json");
  AIOK_CHECK(metrics.contains("model") && metrics.contains("architecture"),
             ErrorKind::kInvalidInput, "{}/metrics.json does not describe a trained model",
             model_dir);
  const auto& sizes = metrics.at("architecture").at("table_sizes");
  AIOK_CHECK(sizes == nlohmann::json(schema.features.cardinalities()), ErrorKind::kInvalidInput,
             "the model in {} was not trained on the dataset {}: its embedding tables do not "
             "match the dataset's cardinalities",
             model_dir, dataset_dir);

  CheckOutputKeepsInput(dataset_dir, "--data", out_dir, "--out");
  CheckOutputKeepsInput(model_dir, "--model", out_dir, "--out");
  CheckReplaceable(out_dir, "bundle.json", "a model bundle");
  StagingDirectory staging(out_dir);
  CopyFile(model_dir + "/model.pt", staging.path() + "/model.pt");
  CopyFile(dataset_dir + "/etl_state/pipeline.json", staging.path() + "/pipeline.json");
  CopyFile(dataset_dir + "/schema.json", staging.path() + "/schema.json");
  CopyFile(model_dir + "/metrics.json", staging.path() + "/metrics.json");
  // The prepare stage's lookups (etl/prepare_lookup.h): side tables and fitted statistics.
  std::vector<std::string> payload = PayloadFiles();
  const std::string lookups = dataset_dir + "/etl_state/prepare";
  if (fs::is_directory(lookups)) {
    fs::create_directories(staging.path() + "/prepare");
    for (const auto& entry : fs::directory_iterator(lookups)) {
      const std::string name = "prepare/" + entry.path().filename().string();
      CopyFile(entry.path().string(), staging.path() + "/" + name);
      payload.push_back(name);
    }
  }

  nlohmann::json files = nlohmann::json::object();
  for (const std::string& name : payload) {
    const std::string path = staging.path() + "/" + name;
    files[name] = {{"bytes", static_cast<int64_t>(fs::file_size(path))},
                   {"xxh3_128", FileChecksum(path)}};
  }
  nlohmann::json manifest = {
      {"format", kBundleFormatName},
      {"format_version", kBundleFormatVersion},
      {"model", {{"type", metrics.at("model")}, {"architecture", metrics.at("architecture")}}},
      {"input",
       {{"schema", RecordedInputSchema(schema.ToJson(), dataset_dir + "/schema.json").ToJson()},
        {"features", schema.features.ToJson()},
        {"label_mapping", schema.label_mapping}}},
      {"precision_trained", metrics.value("precision", "fp32")},
      {"metrics",
       {{"valid", metrics.value("valid", nlohmann::json())},
        {"test", metrics.value("test", nlohmann::json())}}},
      {"files", files}};
  WriteFileAtomic(staging.path() + "/bundle.json", manifest.dump(2) + "\n");
  staging.Publish();
  return manifest;
}

Bundle OpenBundle(const std::string& dir) {
  AIOK_CHECK(fs::is_directory(dir), ErrorKind::kIo,
             "{} is not a directory (expected a model bundle)", dir);
  const std::string manifest_path = dir + "/bundle.json";
  AIOK_CHECK(fs::exists(manifest_path), ErrorKind::kInvalidInput,
             "{} has no bundle.json: not a model bundle (make one with aiok run or aiok bundle)",
             dir);
  Bundle bundle;
  bundle.dir = dir;
  bundle.manifest = ParseJsonFile(manifest_path);
  const JsonField m(bundle.manifest, manifest_path);
  m.ExpectObject();
  AIOK_CHECK(m.Get<std::string>("format", "") == kBundleFormatName, ErrorKind::kInvalidInput,
             "{}: format is not '{}'", manifest_path, kBundleFormatName);
  const int version = m["format_version"].Get<int>();
  AIOK_CHECK(version != 1, ErrorKind::kInvalidInput,
             "{}: this bundle has format version 1, from an aiok that served only Criteo's "
             "layout; make it again with this aiok (aiok bundle, or aiok run)",
             manifest_path);
  AIOK_CHECK(version == kBundleFormatVersion, ErrorKind::kInvalidInput,
             "{}: bundle format version {} is not supported (this aiok reads version {})",
             manifest_path, version, kBundleFormatVersion);
  const JsonField files = m["files"];
  files.ExpectObject();
  // Every listed file is verified: the required ones, and the prepare stage's lookups (names
  // inside prepare/, never paths out of the bundle).
  std::vector<std::string> payload = PayloadFiles();
  for (const std::string& name : files.Keys()) {
    if (name.rfind("prepare/", 0) != 0)
      continue;
    const std::string file = name.substr(8);
    AIOK_CHECK(!file.empty() && file.find('/') == std::string::npos && file[0] != '.',
               ErrorKind::kInvalidInput, "{}: files: '{}' is not a file of the bundle",
               manifest_path, name);
    payload.push_back(name);
  }
  if (fs::exists(dir + "/prepare")) {
    for (const auto& entry : fs::directory_iterator(dir + "/prepare")) {
      const std::string name = "prepare/" + entry.path().filename().string();
      AIOK_CHECK(std::find(payload.begin(), payload.end(), name) != payload.end(),
                 ErrorKind::kInvalidInput, "{}: the manifest does not list {}", manifest_path,
                 name);
    }
  }
  for (const std::string& name : payload) {
    const std::string path = dir + "/" + name;
    AIOK_CHECK(files.Has(name), ErrorKind::kInvalidInput, "{}: the manifest does not list {}",
               manifest_path, name);
    const JsonField entry = files[name];
    const auto listed_bytes = entry["bytes"].Get<int64_t>();
    const auto listed_checksum = entry["xxh3_128"].Get<std::string>();
    AIOK_CHECK(fs::exists(path), ErrorKind::kInvalidInput, "{} is missing from the bundle", path);
    CheckRegularFile(path);
    const auto bytes = static_cast<int64_t>(fs::file_size(path));
    AIOK_CHECK(bytes == listed_bytes, ErrorKind::kInvalidInput,
               "{} is damaged: {} bytes, the manifest says {}", path, bytes, listed_bytes);
    const std::string checksum = FileChecksum(path);
    AIOK_CHECK(checksum == listed_checksum, ErrorKind::kInvalidInput,
               "{} is damaged: its checksum {} differs from the manifest's {}", path, checksum,
               listed_checksum);
  }
  const JsonField model = m["model"];
  model["type"].Get<std::string>();
  model["architecture"].ExpectObject();
  bundle.model = model.json();
  bundle.pipeline_state = ParseJsonFile(dir + "/pipeline.json");
  bundle.schema = ParseJsonFile(dir + "/schema.json");
  bundle.metrics = ParseJsonFile(dir + "/metrics.json");
  bundle.weights_path = dir + "/model.pt";
  return bundle;
}

}  // namespace aiok::serving
