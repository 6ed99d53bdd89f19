#include "aiok/etl/table_etl.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/dataset.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/data/criteo_parquet_reader.h"
#include "aiok/etl/batch_encoder.h"
#include "aiok/etl/batch_store.h"
#include "aiok/etl/etl_source.h"
#include "aiok/etl/output_directory.h"
#include "aiok/etl/table_transformer.h"

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;

// Bytes a parsed batch holds, for the memory budget.
int64_t BatchBytes(const data::TableBatch& batch) {
  size_t bytes = 0;
  for (const data::ColumnValues& c : batch.columns) {
    bytes += c.valid.size() + 8 * (c.ints.size() + c.uints.size() + c.reals.size()) +
             c.bytes.size() + 4 * c.ends.size() + 8 * c.list_offsets.size();
  }
  return static_cast<int64_t>(bytes);
}

// The distinct values of the label, as text, up to three of them (enough to tell binary).
struct LabelValues {
  std::set<std::string> distinct;
  bool numeric = true;

  void See(const data::ColumnValues& column, int64_t rows) {
    for (int64_t r = 0; r < rows && distinct.size() <= 2; ++r) {
      if (!column.valid[static_cast<size_t>(r)])
        continue;
      switch (column.type.value) {
        case data::ValueType::kInt64:
        case data::ValueType::kTimestamp:
          distinct.insert(std::to_string(column.ints[static_cast<size_t>(r)]));
          break;
        case data::ValueType::kUInt64:
          distinct.insert(std::to_string(column.uints[static_cast<size_t>(r)]));
          break;
        case data::ValueType::kFloat64:
          distinct.insert(fmt::format("{}", column.reals[static_cast<size_t>(r)]));
          break;
        case data::ValueType::kString:
          numeric = false;
          distinct.emplace(column.string(static_cast<size_t>(r)));
          break;
      }
    }
  }
};

// The task and label mapping from what the label held; errors name the field.
LabelMapping DecideLabel(const LabelValues& seen, const TableEtlOptions& options,
                         const std::string& label) {
  const std::vector<std::string> values(seen.distinct.begin(), seen.distinct.end());
  const std::string shown = fmt::format("'{}'{}", fmt::join(values, "', '"),
                                        values.size() > 2 ? " and more" : "");
  AIOK_CHECK(!values.empty(), ErrorKind::kInvalidInput, "label {}: no value in the input", label);
  LabelMapping mapping;
  const bool two = values.size() <= 2;
  if (options.task == "regression" || (options.task == "auto" && !two)) {
    AIOK_CHECK(seen.numeric, ErrorKind::kInvalidInput,
               "label {}: a regression label must be numeric, found text values {}", label, shown);
    AIOK_CHECK(options.positive.empty(), ErrorKind::kUsage,
               "--positive goes with a binary task; label {} has the values {}", label, shown);
    mapping.task = data::Task::kRegression;
    return mapping;
  }
  AIOK_CHECK(two, ErrorKind::kInvalidInput,
             "label {}: a binary task needs exactly two label values, found {} (use --task "
             "regression for a numeric target)",
             label, shown);
  AIOK_CHECK(values.size() == 2, ErrorKind::kInvalidInput,
             "label {}: every row has the label {}: there is nothing to learn", label, shown);
  mapping.task = data::Task::kBinary;
  if (options.positive.empty() && seen.numeric && values[0] == "0" && values[1] == "1")
    return mapping;  // already 0/1
  std::string positive = options.positive;
  if (positive.empty()) {
    static const std::set<std::string> kPositiveWords = {"1",   "true",  "yes",     "y",
                                                         "pos", "click", "clicked", "positive"};
    positive = values[1];  // the larger number, or the later text
    for (const std::string& value : values) {
      std::string lower = value;
      for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (kPositiveWords.count(lower))
        positive = value;
    }
    if (seen.numeric) {
      positive = std::stod(values[0]) > std::stod(values[1]) ? values[0] : values[1];
    }
    spdlog::info("etl: label {} has the values {}; '{}' is taken as 1 (set it with --positive)",
                 label, shown, positive);
  }
  AIOK_CHECK(positive == values[0] || positive == values[1], ErrorKind::kUsage,
             "--positive {}: label {} has no such value (values: {})", positive, label, shown);
  mapping.positive = positive;
  mapping.negative = positive == values[0] ? values[1] : values[0];
  return mapping;
}

}  // namespace

EtlSummary RunTableEtl(const PipelineSpec& spec, const TableEtlOptions& options,
                       const RunContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  auto since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const data::TableSchema& schema = options.schema;
  schema.Validate(options.input);
  const int label_field = schema.LabelIndex();
  AIOK_CHECK(label_field >= 0, ErrorKind::kConfig,
             "{}: no field has the role label; name it with --label or in the schema",
             options.input);
  AIOK_CHECK(options.task == "auto" || options.task == "binary" || options.task == "regression",
             ErrorKind::kUsage, "--task {}: expected auto, binary or regression", options.task);
  const std::string& label_name = schema.fields[static_cast<size_t>(label_field)].name;
  const PipelineSpec complete =
      CompletePipeline(spec, schema, options.freq_threshold, "pipeline");
  Pipeline pipeline(complete, DenseFieldNames(schema), CategoricalFieldNames(schema), "pipeline");
  const data::SplitRule split_rule = data::SplitRule::Parse(options.split_rule);
  CheckReplaceable(options.out_dir);
  StagingDirectory staging(options.out_dir);
  const std::string& dir = staging.path();
  std::unique_ptr<AtomicFileWriter> rejects;
  if (options.on_error == data::OnError::kSkip) {
    rejects = std::make_unique<AtomicFileWriter>(dir + "/rejects.tsv");
    rejects->Write("record\tline\treason\n");
  }
  const int64_t budget =
      options.memory_budget > 0 ? options.memory_budget : DefaultEtlMemoryBudget();
  data::TextReadOptions read_options;
  read_options.on_error = options.on_error;

  // Pass 1: read, keep what fits the budget, see the label.
  std::vector<data::TableBatch> kept;
  bool all_kept = true;
  int64_t kept_bytes = 0;
  LabelValues label_values;
  data::TextReadSummary read;
  {
    Progress progress("etl: read", 0, "records");
    read = data::ReadTable(options.input, schema, read_options, ctx, [&](data::TableBatch& batch) {
      for (const auto& reject : batch.rejects) {
        rejects->Write(fmt::format("{}\t{}\t{}\n", reject.record, reject.line, reject.reason));
      }
      label_values.See(batch.columns[static_cast<size_t>(label_field)], batch.rows);
      progress.Advance(batch.records);
      if (!all_kept)
        return;
      kept_bytes += BatchBytes(batch);
      if (kept_bytes > budget) {
        all_kept = false;
        kept.clear();
        kept.shrink_to_fit();
        return;
      }
      kept.push_back(std::move(batch));
    });
  }
  if (rejects)
    rejects->Commit();
  AIOK_CHECK(read.rows > 0, ErrorKind::kInvalidInput,
             "{}: no rows to learn from: {} of {} records were rejected{}", options.input,
             read.rejected, read.records,
             rejects ? fmt::format(" (see {}/rejects.tsv)", options.out_dir) : "");
  spdlog::debug("etl: read {} records at {:.3f}s ({} kept in memory)", read.records, since_start(),
                all_kept ? "all" : "none");
  const LabelMapping label = DecideLabel(label_values, options, label_name);
  const data::SplitRanges ranges = split_rule.Apply(read.records);
  AIOK_CHECK(ranges.train.size() > 0, ErrorKind::kInvalidInput,
             "{}: the split {} leaves no train rows out of {} records", options.input,
             split_rule.text(), read.records);

  // Each pass over the parsed input after the first: the kept batches, or the file again.
  auto for_each_batch = [&](const std::function<void(const data::TableBatch&)>& visit) {
    if (all_kept) {
      for (const data::TableBatch& batch : kept)
        visit(batch);
      return;
    }
    data::ReadTable(options.input, schema, read_options, ctx,
                    [&](data::TableBatch& batch) { visit(batch); });
  };

  // Fit, phase by phase, on the train rows.
  pipeline.FinishFitFreeOperators();
  const TableTransformer transformer(schema, pipeline, label);
  const std::vector<std::string> dense_names = DenseFieldNames(schema);
  const std::vector<std::string> categorical_names = CategoricalFieldNames(schema);
  for (int phase = 0; phase < pipeline.FitPhases(); ++phase) {
    for_each_batch([&](const data::TableBatch& batch) {
      ctx.cancel->ThrowIfCancelled();
      const size_t n_train = RowsBelow(batch.RowRecords(), ranges.train.end);
      if (n_train == 0)
        return;
      const auto n_dense = static_cast<int64_t>(pipeline.dense().size());
      const auto n_cat = static_cast<int64_t>(pipeline.categorical().size());
      ParallelFor(n_dense + n_cat, ctx.threads, [&](int64_t task) {
        ColumnChain& chain = task < n_dense ? pipeline.dense()[static_cast<size_t>(task)]
                                            : pipeline.categorical()[static_cast<size_t>(task - n_dense)];
        // The operator of this phase in the chain, and the chain's field.
        int seen = 0;
        size_t op = chain.ops.size();
        for (size_t i = 0; i < chain.ops.size() && op == chain.ops.size(); ++i) {
          if (chain.ops[i]->needs_fit() && seen++ == phase)
            op = i;
        }
        if (op == chain.ops.size())
          return;
        const data::ColumnValues& column =
            batch.columns[static_cast<size_t>(schema.Find(chain.column))];
        if (task < n_dense) {
          std::vector<double> values(n_train);
          DenseValues(column, 0, n_train, values.data());
          chain.TransformDensePrefix(values.data(), n_train, op);
          chain.ops[op]->FitDense(values.data(), n_train);
        } else {
          const size_t end = column.type.list ? static_cast<size_t>(column.list_offsets[n_train])
                                              : n_train;
          std::vector<int64_t> keys(end);
          CategoricalKeys(column, 0, end, keys.data());
          chain.ops[op]->FitCategorical(keys.data(), end);
        }
      });
    });
    FinishFitPhase(pipeline, phase, ctx.threads);
  }
  spdlog::debug("etl: fit finished at {:.3f}s", since_start());

  // Pass 2: transform and write every split's shards.
  const std::unique_ptr<data::MappedFile> truth = OpenTruth(options.input, read.records);
  data::DatasetSchema dataset;
  dataset.features = transformer.Layout();
  const std::vector<data::RowRange> split_records = {ranges.train, ranges.valid, ranges.test};
  for (size_t s = 0; s < split_records.size(); ++s)
    dataset.splits.push_back(data::SplitInfo{data::SplitNames()[s], split_records[s], 0, {}, ""});
  std::vector<std::unique_ptr<data::SplitWriter>> writers;
  for (auto& split : dataset.splits) {
    writers.push_back(
        std::make_unique<data::SplitWriter>(dir, &split, dataset.features, options.shard_rows));
  }
  std::vector<int64_t> max_length(dataset.features.jagged.size(), 0);
  {
    Progress progress("etl: transform and write shards", read.rows, "rows");
    for_each_batch([&](const data::TableBatch& batch) {
      ctx.cancel->ThrowIfCancelled();
      const data::FeatureBatch features = transformer.Transform(batch, true);
      const std::vector<int64_t> records = batch.RowRecords();
      for (size_t j = 0; j < features.jagged.size(); ++j) {
        for (int64_t r = 0; r < features.rows; ++r)
          max_length[j] = std::max(max_length[j], features.jagged[j].length(r));
      }
      const int64_t bounds[4] = {0, static_cast<int64_t>(RowsBelow(records, ranges.train.end)),
                                 static_cast<int64_t>(RowsBelow(records, ranges.valid.end)),
                                 features.rows};
      for (int s = 0; s < 3; ++s) {
        const int64_t rows = bounds[s + 1] - bounds[s];
        if (rows == 0)
          continue;
        writers[static_cast<size_t>(s)]->Append(features, bounds[s], rows);
        if (truth) {
          const auto* all = reinterpret_cast<const float*>(truth->data());
          std::vector<float> values(static_cast<size_t>(rows));
          for (int64_t r = 0; r < rows; ++r)
            values[static_cast<size_t>(r)] = all[records[static_cast<size_t>(bounds[s] + r)]];
          writers[static_cast<size_t>(s)]->AppendTruth(values.data(), rows);
        }
      }
      progress.Advance(features.rows);
    });
  }
  for (auto& writer : writers)
    writer->Close();
  for (size_t j = 0; j < max_length.size(); ++j)
    dataset.features.jagged[j].max_length = max_length[j];
  for (const auto& field : dataset.features.categorical) {
    AIOK_CHECK(field.cardinality <= INT32_MAX, ErrorKind::kConfig,
               "field {}: {} ids do not fit the int32 shard format", field.name, field.cardinality);
  }
  fs::create_directories(dir + "/etl_state");
  WriteFileAtomic(dir + "/etl_state/pipeline.json", pipeline.SaveState().dump() + "\n");
  dataset.source = SourceJson(options.input, data::IsParquetFile(options.input) ? "parquet" : "text",
                              read.bytes, read.records, truth.get());
  dataset.rejected = read.rejected;
  dataset.pipeline = complete.ToJson();
  dataset.split_rule = split_rule.text();
  dataset.input_schema = schema.ToJson();
  dataset.label_mapping = label.ToJson();
  WriteFileAtomic(dir + "/schema.json", dataset.ToJson().dump(2) + "\n");
  staging.Publish();

  EtlSummary summary;
  summary.lines = read.records;
  summary.rows = read.rows;
  summary.rejected = read.rejected;
  summary.input_bytes = read.bytes;
  summary.seconds = since_start();
  return summary;
}

}  // namespace aiok::etl
