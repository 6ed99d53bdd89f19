#include "aiok/data/criteo_generator.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/criteo_click_model.h"
#include "aiok/data/splits.h"
#include "aiok/data/text_format.h"

namespace aiok::data {
namespace {

constexpr int kFormatVersion = 1;

void AppendRow(const CriteoRow& row, std::string& out) {
  out.push_back(row.label ? '1' : '0');
  for (int d = 0; d < kCriteoDense; ++d) {
    out.push_back('\t');
    if (!row.dense_missing[d])
      AppendInt(out, row.dense[d]);
  }
  for (int c = 0; c < kCriteoCategorical; ++c) {
    out.push_back('\t');
    if (!row.category_missing[c])
      AppendHex8(out, row.category[c]);
  }
  out.push_back('\n');
}

}  // namespace

GeneratorSummary CriteoGenerator::Generate(const RunContext& ctx, const std::string& out_dir) {
  Validate();
  const auto start = std::chrono::steady_clock::now();
  const int64_t rows = options_.rows;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot create directory '{}': {}", out_dir, ec.message());
  // The manifest marks a complete directory: drop an old one before touching its data files.
  const std::string manifest_path = out_dir + "/datagen.json";
  fs::remove(manifest_path, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot remove old '{}': {}", manifest_path, ec.message());

  const CriteoClickModel model(ctx.seed, options_.card_scale, options_.pos_rate, rows);
  std::vector<float> truth(static_cast<size_t>(rows));
  std::vector<uint8_t> labels(static_cast<size_t>(rows));

  const std::string data_path = out_dir + "/train.txt";
  AtomicFileWriter data_file(data_path);
  AtomicFileWriter truth_file(out_dir + "/truth.f32");
  OrderedTurns turns;
  Progress progress("datagen criteo", rows, "rows");
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  ParallelFor(chunks, ctx.threads, [&](int64_t chunk) {
    try {
      ctx.cancel->ThrowIfCancelled();
      const int64_t begin = chunk * kChunkRows;
      const int64_t end = std::min(rows, begin + kChunkRows);
      std::string text;
      text.reserve(static_cast<size_t>(end - begin) * 260);
      CriteoRow row;
      for (int64_t r = begin; r < end; ++r) {
        model.MakeRow(r, &row);
        truth[r] = row.probability;
        labels[r] = row.label;
        AppendRow(row, text);
      }
      turns.Commit(chunk, [&] {
        data_file.Write(text);
        // x86-64 is little-endian, the documented byte order of truth.f32.
        truth_file.Write(truth.data() + begin, sizeof(float) * static_cast<size_t>(end - begin));
      });
      progress.Advance(end - begin);
    } catch (...) {
      turns.Abort();
      throw;
    }
  });
  progress.Finish();
  const int64_t bytes = static_cast<int64_t>(data_file.size());
  data_file.Commit();
  truth_file.Commit();

  nlohmann::json manifest;
  manifest["format_version"] = kFormatVersion;
  manifest["generator"] = "criteo";
  manifest["layout"] = "criteo-kaggle-tsv";
  manifest["rows"] = rows;
  manifest["seed"] = ctx.seed;
  manifest["options"] = OptionsToJson(options_);
  manifest["files"] = {{"data", "train.txt"}, {"truth", "truth.f32"}, {"data_bytes", bytes}};
  manifest["truth_format"] = "float32 little-endian, one per row, row order";
  manifest["intercept"] = model.intercept();
  std::vector<int64_t> cardinalities;
  for (int c = 0; c < kCriteoCategorical; ++c)
    cardinalities.push_back(model.cardinality(c));
  manifest["cardinalities"] = cardinalities;
  manifest["positive_rate"] = PositiveRate(labels.data(), labels.size());
  manifest["bayes"] = BayesScores(truth, labels);
  manifest["splits"] = SplitRule::Parse("kaggle").Describe();
  WriteFileAtomic(manifest_path, manifest.dump(2) + "\n");

  GeneratorSummary summary;
  summary.rows = rows;
  summary.bytes = bytes;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.positive_rate = manifest["positive_rate"].get<double>();
  summary.bayes_auc = manifest["bayes"]["all"]["bayes_auc"].get<double>();
  summary.data_file = data_path;
  return summary;
}

}  // namespace aiok::data
