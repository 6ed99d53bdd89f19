#include "aiok/train/checkpoint.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/hash.h"
#include "aiok/core/json_fields.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/positional_io.h"
#include "aiok/train/optimizer.h"
#include "aiok/train/sparse_optimizer.h"

namespace aiok::train {
namespace {
namespace fs = std::filesystem;

// 2: position.json records what the run depends on; the sparse optimizer's state is in
// optimizer.pt (format 1 kept it in the model's buffers).
constexpr int kCheckpointFormat = 2;

// A fingerprint of a file's bytes (not cryptographic: it tells datasets apart).
std::string ContentHash(const std::string& bytes) {
  uint64_t hash = bytes.size();
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, bytes.data() + i, std::min<size_t>(8, bytes.size() - i));
    hash = HashPair(hash, word);
  }
  return fmt::format("{:016x}", hash);
}

nlohmann::json PositionJson(const Position& at) {
  return {{"epoch", at.epoch},
          {"next_batch", at.next_batch},
          {"step", at.step},
          {"samples", at.samples},
          {"train_seconds", at.train_seconds},
          {"best_score", at.best_score},
          {"best_step", at.best_step},
          {"evaluations_since_best", at.evaluations_since_best}};
}

Position PositionFromJson(const JsonField& json) {
  Position at;
  at.epoch = json["epoch"].Get<int64_t>();
  at.next_batch = json["next_batch"].Get<int64_t>();
  at.step = json["step"].Get<int64_t>();
  at.samples = json["samples"].Get<int64_t>();
  at.train_seconds = json["train_seconds"].Get<double>();
  at.best_score = json["best_score"].Get<double>();
  at.best_step = json["best_step"].Get<int64_t>();
  at.evaluations_since_best = json["evaluations_since_best"].Get<int64_t>();
  return at;
}

// Every dependency that differs, as "key: checkpoint X, now Y" lines.
std::string Differences(const nlohmann::json& saved, const nlohmann::json& current) {
  std::string out;
  for (const auto& [key, value] : current.items()) {
    const nlohmann::json before = saved.contains(key) ? saved.at(key) : nlohmann::json();
    if (before != value)
      out += fmt::format("\n  {}: {} in the checkpoint, {} now", key, before.dump(), value.dump());
  }
  for (const auto& [key, value] : saved.items()) {
    if (!current.contains(key))
      out += fmt::format("\n  {}: {} in the checkpoint, not set now", key, value.dump());
  }
  return out;
}

}  // namespace

nlohmann::json RunDependencies(const std::string& data_dir, const std::string& model,
                               const nlohmann::json& architecture,
                               const loader::LoaderOptions& loader,
                               const OptimizerOptions& optimizer, const std::string& precision,
                               uint64_t seed) {
  nlohmann::json out = {
      {"dataset", {{"schema.json", ContentHash(ReadFile(data_dir + "/schema.json"))}}},
      {"model", model},
      {"architecture", architecture},
      {"precision", precision},
      {"seed", seed}};
  // The loader's options that decide the order of the rows (not its threads or prefetch).
  const nlohmann::json order = OptionsToJson(loader);
  for (const char* key : {"batch-size", "shuffle", "shuffle-window", "drop-last"})
    out[key] = order.at(key);
  out.update(OptionsToJson(optimizer));
  return out;
}

bool HasCheckpoint(const std::string& out_dir) {
  return fs::exists(out_dir + "/checkpoint/position.json");
}

void SaveCheckpoint(models::Model& model, const DenseOptimizer& dense,
                    const SparseOptimizer& sparse, const Position& at,
                    const nlohmann::json& dependencies, const std::string& out_dir) {
  // Replaces the previous checkpoint only once the new one is complete.
  StagingDirectory staging(out_dir + "/checkpoint");
  const std::string& temp = staging.path();
  models::SaveWeights(model, temp + "/model.pt");
  torch::serialize::OutputArchive archive;
  dense.Save(archive);
  sparse.Save(archive);
  archive.save_to(temp + "/optimizer.pt");
  const nlohmann::json position = {
      {"format", kCheckpointFormat}, {"position", PositionJson(at)}, {"depends_on", dependencies}};
  WriteFileAtomic(temp + "/position.json", position.dump(2) + "\n");
  staging.Publish();
}

Position LoadCheckpoint(models::Model& model, DenseOptimizer& dense, SparseOptimizer& sparse,
                        const nlohmann::json& dependencies, const std::string& out_dir) {
  const std::string dir = out_dir + "/checkpoint";
  const std::string position_file = dir + "/position.json";
  const nlohmann::json document = ParseJsonText(ReadFile(position_file), position_file);
  const JsonField saved(document, position_file);
  saved.ExpectObject();
  AIOK_CHECK(saved.Get<int>("format", 0) == kCheckpointFormat, ErrorKind::kConfig,
             "cannot resume from {}: it is not a format-{} checkpoint (an older aiok wrote it); "
             "start over with another --out or without --resume",
             dir, kCheckpointFormat);
  saved["depends_on"].ExpectObject();
  const std::string differences = Differences(saved["depends_on"].json(), dependencies);
  AIOK_CHECK(differences.empty(), ErrorKind::kConfig,
             "cannot resume from {}: the run would not continue the one it saved; these "
             "differ:{}\nResume with the same dataset and settings, or train into another --out",
             dir, differences);
  const Position at = PositionFromJson(saved["position"]);
  models::LoadWeights(model, dir + "/model.pt");
  const std::string optimizer_file = dir + "/optimizer.pt";
  CheckRegularFile(optimizer_file);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(optimizer_file);
    dense.Load(archive);
    sparse.Load(archive);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    models::ThrowUnreadableArchive(optimizer_file, "the optimizer's state", e);
  }
  return at;
}

}  // namespace aiok::train
