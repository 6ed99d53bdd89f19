#include "aiok/workflow/bundle_evaluation.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/core/metrics.h"
#include "aiok/data/dataset.h"
#include "aiok/data/mapped_file.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/splits.h"
#include "aiok/data/time_values.h"
#include "aiok/serving/predictor.h"
#include "aiok/serving/serving_pipeline.h"

namespace aiok::workflow {
namespace {

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
  // A dataset made by prepare steps has its splits over the prepared table's rows, which it
  // keeps: those rows are scored (their looked-up and computed fields are left to the bundle,
  // as serving computes them), not the input's.
  const auto prepared = schema.source.find("prepared");
  const bool from_prepared = prepared != schema.source.end();
  AIOK_CHECK(!from_prepared || prepared->contains("file"), ErrorKind::kInvalidInput,
             "{}: the dataset was made by prepare steps, whose splits are over the prepared "
             "table, but it does not keep that table; rerun aiok etl",
             dataset_dir);
  // Which records are the split's: the rule the ETL applied, over the records it read.
  const data::SplitRule rule = data::SplitRule::Parse(schema.split_rule);
  const data::SplitRanges ranges =
      rule.Apply(from_prepared ? prepared->at("rows").get<int64_t>()
                               : schema.source.at("lines").get<int64_t>());
  const auto split_index = static_cast<data::SplitIndex>(
      std::find(data::SplitNames().begin(), data::SplitNames().end(), split) -
      data::SplitNames().begin());
  const std::string input = from_prepared
                                ? dataset_dir + "/" + prepared->at("file").get<std::string>()
                                : schema.source.at("path").get<std::string>();
  const serving::Bundle bundle = serving::OpenBundle(bundle_dir);
  const serving::ServingPipeline features(bundle);
  const serving::Predictor predictor(bundle, "fp32");
  // The raw rows, read as the ETL read them (bad lines were already decided about there).
  const data::TableSchema read_schema = features.RowSchema(/*with_label=*/true);
  data::TextReadOptions reader;
  reader.on_error = data::OnError::kSkip;
  // A time split cuts by each row's own time. The rule parsed back from schema.json has its
  // cut dates but not the ETL's records, so Of(record) refuses it: read the row's time.
  const int time_field = rule.by_time() ? read_schema.Find(rule.time_field()) : -1;
  AIOK_CHECK(!rule.by_time() || time_field >= 0, ErrorKind::kInvalidInput,
             "{}: split rule '{}': the bundle's input has no field '{}' to split by", dataset_dir,
             schema.split_rule, rule.time_field());
  // The split of each row of `batch` (-1: none, a row without a valid time, which the ETL
  // rejected).
  auto splits_of = [&](const data::TableBatch& batch, const std::vector<int64_t>& records) {
    std::vector<int> splits(records.size());
    if (time_field < 0) {
      for (size_t r = 0; r < records.size(); ++r)
        splits[r] = rule.Of(records[r], ranges);
      return splits;
    }
    const data::ColumnValues& times = batch.columns[static_cast<size_t>(time_field)];
    std::string problem;
    for (size_t r = 0; r < records.size(); ++r) {
      int64_t seconds = 0;
      const bool timed = times.valid[r] && data::TimeFromInteger(times.ints[r], rule.time_format(),
                                                                 &seconds, &problem);
      splits[r] = timed ? rule.OfTime(seconds) : -1;
    }
    return splits;
  };

  // Per batch, in file order once joined.
  std::vector<std::vector<float>> predictions;
  std::mutex grow;
  data::ReadTable(
      input, read_schema, reader, ctx, [](data::TableBatch&) {},
      [&](data::TableBatch& batch, int64_t index) {
        const int64_t first = batch.first_record - 1;
        if (first >= info.lines.end || first + batch.records <= info.lines.begin)
          return;  // no record of the split (its records are [lines.begin, lines.end))
        const std::vector<int64_t> records = batch.RowRecords();
        const std::vector<int> splits = splits_of(batch, records);
        const data::FeatureBatch rows = features.Transform(std::move(batch), read_schema);
        std::vector<float> all(static_cast<size_t>(rows.rows));
        predictor.Predict(rows, all.data());
        std::vector<float> p;
        for (size_t r = 0; r < records.size(); ++r) {
          if (splits[r] == split_index)
            p.push_back(all[r]);
        }
        std::lock_guard<std::mutex> lock(grow);
        if (static_cast<size_t>(index) >= predictions.size())
          predictions.resize(static_cast<size_t>(index) + 1);
        predictions[static_cast<size_t>(index)] = std::move(p);
      });
  std::vector<float> all_p;
  for (const auto& part : predictions)
    all_p.insert(all_p.end(), part.begin(), part.end());
  AIOK_CHECK(static_cast<int64_t>(all_p.size()) == info.rows, ErrorKind::kInvalidInput,
             "{}: the {} split has {} rows in schema.json but {} in its source {}; was the source "
             "changed after the ETL?",
             dataset_dir, split, info.rows, all_p.size(), input);
  // The labels as the ETL mapped them, in the same row order.
  std::vector<float> targets;
  {
    const data::SplitReader shards(dataset_dir, schema, split);
    const std::vector<int64_t> shard_rows = shards.shard_rows();
    for (size_t s = 0; s < shard_rows.size(); ++s) {
      const data::FeatureBatch rows = shards.View(static_cast<int64_t>(s), 0, shard_rows[s]);
      targets.insert(targets.end(), rows.labels, rows.labels + rows.rows);
    }
  }
  if (schema.features.task == data::Task::kRegression) {
    return {{"split", split},
            {"rows", all_p.size()},
            {"rmse", RootMeanSquaredError(all_p.data(), targets.data(), all_p.size())},
            {"mae", MeanAbsoluteError(all_p.data(), targets.data(), all_p.size())}};
  }
  const std::vector<uint8_t> all_labels(targets.begin(), targets.end());
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
