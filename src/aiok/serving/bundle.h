// Model bundles: everything needed to score raw rows, in one directory —
//
//   BUNDLE/bundle.json     manifest: format version, model name ("type") and architecture, the
//                          input schema (the raw fields predict and serve take), the feature
//                          layout and label mapping, and the size and XXH3-128 checksum of
//                          every other file
//   BUNDLE/model.pt        the weights (libtorch archive of the model's parameters and buffers)
//   BUNDLE/pipeline.json   the fitted ETL pipeline (etl::Pipeline::SaveState)
//   BUNDLE/schema.json     the dataset schema the model was trained on
//   BUNDLE/metrics.json    the training run's metrics
//
// Opening a bundle verifies the manifest and every checksum, so a damaged, truncated or
// foreign bundle is refused with an error naming the file, never half-loaded.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace aiok::serving {

/// 2: any model of the registry and any input schema (recorded in the manifest's "input").
constexpr int kBundleFormatVersion = 2;
constexpr const char* kBundleFormatName = "aiok-model-bundle";

struct Bundle {
  std::string dir;
  nlohmann::json manifest;        ///< bundle.json
  nlohmann::json model;           ///< manifest "model": {"type", "architecture"}
  nlohmann::json pipeline_state;  ///< pipeline.json
  nlohmann::json schema;          ///< schema.json
  nlohmann::json metrics;         ///< metrics.json
  std::string weights_path;  ///< BUNDLE/model.pt
};

/// Writes a bundle from a dataset directory (aiok etl) and a model directory (aiok train) to
/// `out_dir`, staged beside it and renamed when complete. An existing `out_dir` is replaced
/// only if it is a bundle. Returns the manifest.
nlohmann::json WriteBundle(const std::string& dataset_dir, const std::string& model_dir,
                           const std::string& out_dir);

/// Opens and verifies a bundle. Throws Error(kInvalidInput) naming the file for a missing or
/// damaged file, a checksum mismatch, or an unknown format or version.
Bundle OpenBundle(const std::string& dir);

/// XXH3-128 of a file's bytes as 32 hex digits.
std::string FileChecksum(const std::string& path);

}  // namespace aiok::serving
