#include "aiok/etl/table_etl.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <future>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/output_directory.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/dataset.h"
#include "aiok/data/parquet_table_reader.h"
#include "aiok/etl/batch_store.h"
#include "aiok/etl/etl_source.h"
#include "aiok/etl/label_decision.h"
#include "aiok/etl/table_encoder.h"
#include "aiok/etl/table_transformer.h"
#include "aiok/etl/time_operators.h"

namespace aiok::etl {
namespace fs = std::filesystem;
namespace {

// Empties the arrays of a JSON document that hold no arrays or objects, before it is
// destroyed. nlohmann's destructor first moves every element of an array onto a stack it
// allocates for the purpose (to avoid recursion); for a fitted state's arrays of values and
// counts (millions of numbers on the benchmark's 2M rows) that took 7% of the ETL's CPU. A
// cleared vector destroys its numbers in place, at half the cost.
void ClearNumberArrays(nlohmann::json& json) {
  if (json.is_object()) {
    for (auto& item : json.items())
      ClearNumberArrays(item.value());
    return;
  }
  if (!json.is_array())
    return;
  bool flat = true;
  for (nlohmann::json& element : json) {
    if (element.is_structured()) {
      flat = false;
      ClearNumberArrays(element);
    }
  }
  if (flat)
    json.get_ref<nlohmann::json::array_t&>().clear();
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
  data::SplitRule split_rule = data::SplitRule::Parse(options.split_rule);
  // Times that must be read before a row is encoded (datetime_parts inputs, a time split's
  // field): bad ones fail or become rejects here, where rejects are decided.
  const TimeValueCheck time_check(schema, pipeline, split_rule);
  const bool parquet = data::IsParquetFile(options.input);
  CheckReplaceable(options.out_dir, "schema.json", "a dataset directory");
  StagingDirectory staging(options.out_dir);
  const std::string& dir = staging.path();
  std::unique_ptr<AtomicFileWriter> rejects;
  if (options.on_error == data::OnError::kSkip) {
    rejects = std::make_unique<AtomicFileWriter>(dir + "/rejects.tsv");
    rejects->Write("record\tline\treason\n");
  }
  // Operators that need no data are ready now.
  pipeline.FinishFitFreeOperators();
  TableEncoder encoder(schema, pipeline, options.input);

  // Pass 1: read and encode, batches side by side on the reader threads, into the store.
  // Every row is counted as a training row: split boundaries are source records, so that
  // they do not move when records are rejected, and how many records there are is known
  // only once the read is done (counting them first would read the file twice).
  const int64_t budget =
      options.memory_budget > 0 ? options.memory_budget : DefaultEtlMemoryBudget();
  auto store_holder = std::make_unique<BatchStore>(dir + "/pass1.spill", budget);
  BatchStore& store = *store_holder;
  data::TextReadOptions read_options;
  read_options.on_error = options.on_error;
  if (options.range_bytes > 0)
    read_options.range_bytes = options.range_bytes;
  LabelValues label_values;
  std::string first_reject;  // shown when every record is rejected
  data::TextReadSummary read;
  std::vector<int64_t> split_times;  // a time split's: each record's time
  int64_t lines_read = schema.format.header && !parquet ? 1 : 0;
  int64_t time_rejects = 0;
  {
    Progress progress("etl: read and encode", 0, "records");
    read = data::ReadTable(
        options.input, schema, read_options, ctx,
        [&](data::TableBatch& batch) {
          if (!time_check.empty()) {
            // Accepted rows know their record, not their line: the line is known when every
            // record of the batch is one line (the last may lack its newline).
            const bool one_line_each =
                batch.lines == batch.records || batch.lines + 1 == batch.records;
            const int64_t first_line = parquet         ? batch.first_record
                                       : one_line_each ? lines_read + 1
                                                       : 0;
            const size_t before = batch.rejects.size();
            time_check.Apply(&batch, options.on_error, options.input, first_line,
                             split_rule.by_time() ? &split_times : nullptr);
            time_rejects += static_cast<int64_t>(batch.rejects.size() - before);
          }
          lines_read += batch.lines;
          for (const auto& reject : batch.rejects) {
            if (first_reject.empty())
              first_reject = fmt::format("line {}: {}", reject.line, reject.reason);
            rejects->Write(fmt::format("{}\t{}\t{}\n", reject.record, reject.line, reject.reason));
          }
          label_values.See(batch.columns[static_cast<size_t>(label_field)], batch.rows);
        },
        [&](data::TableBatch& batch, int64_t index) {
          const int64_t records = batch.records;
          store.Put(index, encoder.Encode(batch));
          progress.Advance(records);
        });
  }
  if (rejects)
    rejects->Commit();
  read.rows -= time_rejects;
  read.rejected += time_rejects;
  // A dataset without rows would only fail later, in training, with an AUC of nan.
  AIOK_CHECK(read.rows > 0, ErrorKind::kInvalidInput,
             "{}: no rows to learn from: {} of {} records were rejected{}", options.input,
             read.rejected, read.records,
             first_reject.empty() ? "" : "; the first: " + first_reject);
  spdlog::debug("etl: read and encoded {} records at {:.3f}s ({} MB spilled to disk)",
                read.records, since_start(), store.spilled_bytes() >> 20);
  const LabelMapping label = DecideLabel(label_values, options.task, options.positive, label_name);
  if (split_rule.by_time()) {
    AIOK_ASSERT(static_cast<int64_t>(split_times.size()) == read.records);
    split_rule.AssignByTime(split_times);
    spdlog::info("etl: split {}", split_rule.Describe());
  }
  const RecordSplits splits{split_rule, split_rule.Apply(read.records)};
  const data::SplitRanges& ranges = splits.ranges;
  bool any_train = false;
  for (int64_t r = 0; r < read.records && !any_train; ++r)
    any_train = splits.Of(r) == data::kTrainSplit;
  AIOK_CHECK(any_train, ErrorKind::kInvalidInput,
             "{}: the split {} leaves no train rows out of {} records", options.input,
             split_rule.text(), read.records);

  // Fit on the train rows: the dictionaries lose the other rows' counts, the dense chains
  // fit phase by phase.
  encoder.Uncount(store, splits, ctx.threads);
  for (int phase = 0; phase < pipeline.FitPhases(); ++phase)
    encoder.FitPhase(phase, store, splits, label, ctx.threads);
  spdlog::debug("etl: fit finished at {:.3f}s", since_start());

  // The fitted state is final now; it is written beside pass 2 (which only reads the
  // pipeline too) instead of after it: its JSON takes from tens of milliseconds to a second
  // (count and target encoders list every train value).
  std::future<void> saving_state = std::async(std::launch::async, [&] {
    fs::create_directories(dir + "/etl_state");
    nlohmann::json state = pipeline.SaveState();
    std::string text = state.dump();
    text += '\n';
    WriteFileAtomic(dir + "/etl_state/pipeline.json", text);
    ClearNumberArrays(state);
  });

  // Pass 2: finish the stored batches side by side; write them in record order.
  const std::unique_ptr<data::MappedFile> truth = OpenTruth(options.input, read.records);
  data::DatasetSchema dataset;
  dataset.features = encoder.Layout(label.task);
  const std::vector<data::RowRange> split_records = {ranges.train, ranges.valid, ranges.test};
  for (size_t s = 0; s < split_records.size(); ++s)
    dataset.splits.push_back(data::SplitInfo{data::SplitNames()[s], split_records[s], 0, {}, ""});
  std::vector<std::unique_ptr<data::SplitWriter>> writers;
  for (auto& split : dataset.splits) {
    writers.push_back(
        std::make_unique<data::SplitWriter>(dir, &split, dataset.features, options.shard_rows));
  }
  std::vector<int64_t> max_length(dataset.features.jagged.size(), 0);
  // Appends a finished batch's rows to the splits they belong to, with their truth.
  auto write = [&](const FinishedBatch& batch) {
    const data::FeatureBatch& features = batch.features;
    for (size_t j = 0; j < features.jagged.size(); ++j) {
      for (int64_t r = 0; r < features.rows; ++r)
        max_length[j] = std::max(max_length[j], features.jagged[j].length(r));
    }
    for (const data::SplitIndex s : {data::kTrainSplit, data::kValidSplit, data::kTestSplit}) {
      const std::vector<int64_t> rows = splits.RowsOf(batch.lines, s);
      if (rows.empty())
        continue;
      const auto n = static_cast<int64_t>(rows.size());
      if (rows.back() - rows.front() + 1 == n) {
        writers[s]->Append(features, rows.front(), n);  // a run: no copy
      } else {
        const data::FeatureBatch gathered = data::GatherFeatureRows(features, dataset.features, rows);
        writers[s]->Append(gathered, 0, n);
      }
      if (truth) {
        const auto* all = reinterpret_cast<const float*>(truth->data());
        std::vector<float> values(rows.size());
        for (size_t r = 0; r < rows.size(); ++r)
          values[r] = all[batch.lines[static_cast<size_t>(rows[r])]];
        writers[s]->AppendTruth(values.data(), n);
      }
    }
  };
  {
    Progress progress("etl: finish and write shards", read.rows, "rows");
    OrderedTurns turns;
    ParallelFor(store.batches(), ctx.threads, [&](int64_t index) {
      try {
        ctx.cancel->ThrowIfCancelled();
        const FinishedBatch finished = encoder.Finish(store.Take(index), splits, label);
        turns.Commit(index, [&] { write(finished); });
        progress.Advance(finished.features.rows);
      } catch (...) {
        turns.Abort();
        throw;
      }
    });
  }
  for (auto& writer : writers)
    writer->Close();
  store_holder.reset();  // removes the spill file before the directory is published
  for (size_t j = 0; j < max_length.size(); ++j)
    dataset.features.jagged[j].max_length = max_length[j];
  for (const auto& field : dataset.features.categorical) {
    AIOK_CHECK(field.cardinality <= INT32_MAX, ErrorKind::kConfig,
               "field {}: {} ids do not fit the int32 shard format", field.name, field.cardinality);
  }
  saving_state.get();  // rethrows what writing the state threw
  dataset.source = SourceJson(options.input, parquet ? "parquet" : "text", read.bytes, read.records,
                              truth.get());
  dataset.rejected = read.rejected;
  dataset.pipeline = complete.ToJson();
  dataset.split_rule = split_rule.text();
  dataset.input_schema = schema.ToJson();
  dataset.label_mapping = label.ToJson();
  if (options.before_publish)
    options.before_publish(dir, &dataset);
  WriteFileAtomic(dir + "/schema.json", dataset.ToJson().dump(2) + "\n");
  staging.Publish();
  spdlog::debug("etl: output in place at {:.3f}s", since_start());

  EtlSummary summary;
  summary.lines = read.records;
  summary.rows = read.rows;
  summary.rejected = read.rejected;
  summary.input_bytes = read.bytes;
  summary.seconds = since_start();
  return summary;
}

}  // namespace aiok::etl
