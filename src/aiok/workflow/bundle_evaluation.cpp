#include "aiok/workflow/bundle_evaluation.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/data/criteo_source.h"
#include "aiok/data/dataset.h"
#include "aiok/data/mapped_file.h"
#include "aiok/serving/predictor.h"

namespace aiok::workflow {
namespace {

// The rows of `batch` whose source lines (0-based) fall in `lines`, as a batch of their own.
data::CriteoBatch SelectLines(const data::CriteoBatch& batch, const data::RowRange& lines) {
  const std::vector<int64_t> row_lines = data::RowLines(batch);
  data::CriteoBatch out;
  for (size_t r = 0; r < row_lines.size(); ++r) {
    if (!lines.Contains(row_lines[r]))
      continue;
    out.label.push_back(batch.label[r]);
    for (int d = 0; d < data::kCriteoDense; ++d)
      out.dense[d].push_back(batch.dense[d][r]);
    for (int c = 0; c < data::kCriteoCategorical; ++c)
      out.category[c].push_back(batch.category[c][r]);
  }
  out.rows = static_cast<int64_t>(out.label.size());
  out.lines = out.rows;
  return out;
}

nlohmann::json CalibrationTable(const std::vector<float>& p, const std::vector<uint8_t>& labels) {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  nlohmann::json table = nlohmann::json::array();
  constexpr int kBins = 10;
  for (int bin = 0; bin < kBins; ++bin) {
    const size_t begin = order.size() * bin / kBins;
    const size_t end = order.size() * (bin + 1) / kBins;
    if (begin == end)
      continue;
    double predicted = 0.0;
    double observed = 0.0;
    for (size_t i = begin; i < end; ++i) {
      predicted += p[order[i]];
      observed += labels[order[i]];
    }
    const auto n = static_cast<double>(end - begin);
    table.push_back({{"bin", bin + 1},
                     {"rows", end - begin},
                     {"mean_predicted", predicted / n},
                     {"observed_rate", observed / n}});
  }
  return table;
}

}  // namespace

nlohmann::json EvaluateBundleOnSplit(const std::string& bundle_dir, const std::string& dataset_dir,
                                     const std::string& split, const RunContext& ctx) {
  const data::DatasetSchema schema = data::ReadDatasetSchema(dataset_dir);
  const data::SplitInfo& info = schema.split(split);
  const std::string input = schema.source.at("path").get<std::string>();
  const serving::Predictor predictor(serving::OpenBundle(bundle_dir), "fp32");
  const data::CriteoSource source(input, ctx.threads);
  data::CriteoReaderOptions reader;
  reader.label = data::LabelField::kPresent;
  reader.on_error = data::OnError::kSkip;  // the ETL already decided about bad lines

  // Per batch, in file order once joined.
  std::vector<std::vector<float>> probabilities(static_cast<size_t>(source.BatchCount(reader)) + 1);
  std::vector<std::vector<uint8_t>> labels(probabilities.size());
  std::mutex grow;
  source.Read(
      reader, ctx, [](data::CriteoBatch&) {},
      [&](data::CriteoBatch& batch, int64_t index) {
        const int64_t first = batch.first_line - 1;
        if (first >= info.lines.end || first + batch.lines <= info.lines.begin)
          return;  // no line of the split
        const data::CriteoBatch rows = SelectLines(batch, info.lines);
        std::vector<float> p(static_cast<size_t>(rows.rows));
        predictor.Predict(rows, p.data());
        std::lock_guard<std::mutex> lock(grow);
        if (static_cast<size_t>(index) >= probabilities.size()) {
          probabilities.resize(static_cast<size_t>(index) + 1);
          labels.resize(static_cast<size_t>(index) + 1);
        }
        probabilities[static_cast<size_t>(index)] = std::move(p);
        labels[static_cast<size_t>(index)].assign(rows.label.begin(), rows.label.end());
      });
  std::vector<float> all_p;
  std::vector<uint8_t> all_labels;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    all_p.insert(all_p.end(), probabilities[i].begin(), probabilities[i].end());
    all_labels.insert(all_labels.end(), labels[i].begin(), labels[i].end());
  }
  AIOK_CHECK(static_cast<int64_t>(all_p.size()) == info.rows, ErrorKind::kInvalidInput,
             "{}: the {} split has {} rows in schema.json but {} in its source {}; was the source "
             "changed after the ETL?",
             dataset_dir, split, info.rows, all_p.size(), input);
  int64_t correct = 0;
  for (size_t i = 0; i < all_p.size(); ++i)
    correct += (all_p[i] >= 0.5f) == (all_labels[i] == 1);
  nlohmann::json metrics = {
      {"split", split},
      {"rows", all_p.size()},
      {"auc", BinaryAuc(all_p.data(), all_labels.data(), all_p.size())},
      {"logloss", BinaryLogLoss(all_p.data(), all_labels.data(), all_p.size())},
      {"accuracy", all_p.empty() ? 0.0 : static_cast<double>(correct) / all_p.size()},
      {"calibration", CalibrationTable(all_p, all_labels)}};
  if (!info.truth_file.empty()) {
    const data::MappedFile truth(dataset_dir + "/" + info.truth_file);
    if (truth.size() == all_labels.size() * sizeof(float)) {
      metrics["bayes_auc"] = BinaryAuc(reinterpret_cast<const float*>(truth.data()),
                                       all_labels.data(), all_labels.size());
    }
  }
  return metrics;
}

}  // namespace aiok::workflow
