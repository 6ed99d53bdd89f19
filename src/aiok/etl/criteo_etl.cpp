#include "aiok/etl/criteo_etl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/criteo_layout.h"
#include "aiok/data/criteo_source.h"
#include "aiok/data/dataset.h"
#include "aiok/data/mapped_file.h"
#include "aiok/etl/batch_encoder.h"
#include "aiok/etl/batch_store.h"
#include "aiok/etl/etl_source.h"
#include "aiok/data/schema.h"
#include "aiok/etl/output_directory.h"

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> DenseNames() {
  std::vector<std::string> names;
  for (int d = 0; d < data::kCriteoDense; ++d)
    names.push_back(data::CriteoDenseName(d));
  return names;
}

std::vector<std::string> CategoricalNames() {
  std::vector<std::string> names;
  for (int c = 0; c < data::kCriteoCategorical; ++c) {
    names.push_back(data::CriteoCategoricalName(c));
  }
  return names;
}

}  // namespace

EtlSummary RunCriteoEtl(const PipelineSpec& spec, const EtlOptions& options,
                        const RunContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  auto since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Pipeline pipeline(spec, DenseNames(), CategoricalNames(), "pipeline");
  const data::SplitRule split_rule = data::SplitRule::Parse(options.split_rule);
  CheckReplaceable(options.out_dir);

  const data::CriteoSource source(options.input, ctx.threads);
  StagingDirectory staging(options.out_dir);
  const std::string& dir = staging.path();
  std::unique_ptr<AtomicFileWriter> rejects;
  if (options.on_error == data::OnError::kSkip) {
    rejects = std::make_unique<AtomicFileWriter>(dir + "/rejects.tsv");
    rejects->Write("line\treason\n");
  }

  // Operators that need no data are ready now.
  pipeline.FinishFitFreeOperators();
  BatchEncoder encoder(pipeline);

  // Pass 1: parse and encode, batches side by side on the reader threads, into the store.
  // Every row is counted as a training row: split boundaries are source lines (rows for
  // Parquet), so that they do not move when lines are rejected, and how many lines there are
  // is known only once the read is done (counting them first would read the file twice).
  const int64_t budget =
      options.memory_budget > 0 ? options.memory_budget : DefaultEtlMemoryBudget();
  auto store_holder = std::make_unique<BatchStore>(dir + "/pass1.spill", budget);
  BatchStore& store = *store_holder;
  data::CriteoReaderOptions reader_options;
  reader_options.label = data::LabelField::kPresent;
  reader_options.on_error = options.on_error;
  if (options.range_bytes > 0)
    reader_options.range_bytes = options.range_bytes;
  data::CriteoReadSummary read;
  {
    Progress progress("etl: parse, fit and encode", source.EstimatedRecords(), "lines");
    read = source.Read(
        reader_options, ctx,
        [&](data::CriteoBatch& batch) {
          for (const auto& reject : batch.rejects) {
            rejects->Write(fmt::format("{}\t{}\n", reject.line, reject.reason));
          }
        },
        [&](data::CriteoBatch& batch, int64_t index) {
          const int64_t lines_in_batch = batch.lines;
          store.Put(index, encoder.Encode(batch));
          progress.Advance(lines_in_batch);
        });
  }
  if (rejects)
    rejects->Commit();
  // A dataset without rows would only fail later, in training, with an AUC of nan.
  AIOK_CHECK(read.rows > 0, ErrorKind::kInvalidInput,
             "{}: no rows to learn from: {} of {} lines were rejected{}", options.input,
             read.rejected, read.lines,
             rejects ? fmt::format(" (see the reasons with --on-error fail)") : "");
  spdlog::debug("etl: parsed, fitted and encoded at {:.3f}s ({} MB spilled to disk)", since_start(),
                store.spilled_bytes() >> 20);
  const int64_t lines = read.lines;
  const data::SplitRanges ranges = split_rule.Apply(lines);
  encoder.Uncount(store, ranges.train.end, ctx.threads);
  for (int phase = 0; phase < pipeline.FitPhases(); ++phase) {
    FitDensePhase(pipeline, phase, store, ranges.train.end, ctx.threads);
  }
  spdlog::debug("etl: fit finished at {:.3f}s", since_start());

  const std::unique_ptr<data::MappedFile> truth = OpenTruth(options.input, lines);
  data::DatasetSchema schema;
  schema.features.dense = DenseNames();
  // Cardinalities are known once the fit is finished; the shard writers need only the counts.
  for (const std::string& name : CategoricalNames())
    schema.features.categorical.push_back({name, 0});
  const std::vector<data::RowRange> split_lines = {ranges.train, ranges.valid, ranges.test};
  for (size_t s = 0; s < split_lines.size(); ++s) {
    schema.splits.push_back(data::SplitInfo{data::SplitNames()[s], split_lines[s], 0, {}, ""});
  }
  std::vector<std::unique_ptr<data::SplitWriter>> writers;
  for (auto& split : schema.splits) {
    writers.push_back(
        std::make_unique<data::SplitWriter>(dir, &split, schema.features, options.shard_rows));
  }
  // Appends a finished batch to the splits its rows belong to, with their truth.
  auto write = [&](const FinishedBatch& batch) {
    const int64_t bounds[4] = {0, static_cast<int64_t>(RowsBelow(batch.lines, ranges.train.end)),
                               static_cast<int64_t>(RowsBelow(batch.lines, ranges.valid.end)),
                               static_cast<int64_t>(batch.lines.size())};
    for (int s = 0; s < 3; ++s) {
      const int64_t begin = bounds[s];
      const int64_t rows = bounds[s + 1] - begin;
      if (rows == 0)
        continue;
      writers[s]->Append(batch.features, begin, rows);
      if (truth) {
        const auto* all = reinterpret_cast<const float*>(truth->data());
        std::vector<float> values(static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r)
          values[r] = all[batch.lines[begin + r]];
        writers[s]->AppendTruth(values.data(), rows);
      }
    }
  };

  // The fitted state is final now; it is written beside pass 2 (which only reads the
  // pipeline too) instead of after it: its JSON takes a few tens of milliseconds.
  std::future<void> saving_state = std::async(std::launch::async, [&] {
    fs::create_directories(dir + "/etl_state");
    WriteFileAtomic(dir + "/etl_state/pipeline.json", pipeline.SaveState().dump() + "\n");
  });

  // Pass 2 over the stored batches: final ids and values, written to the shards in order.
  {
    Progress progress("etl: finish and write shards", read.rows, "rows");
    OrderedTurns turns;
    ParallelFor(store.batches(), ctx.threads, [&](int64_t index) {
      try {
        ctx.cancel->ThrowIfCancelled();
        const FinishedBatch finished = encoder.Finish(store.Take(index));
        turns.Commit(index, [&] { write(finished); });
        progress.Advance(static_cast<int64_t>(finished.lines.size()));
      } catch (...) {
        turns.Abort();
        throw;
      }
    });
  }
  for (auto& writer : writers)
    writer->Close();
  store_holder.reset();  // removes the spill file before the directory is published
  spdlog::debug("etl: shards written at {:.3f}s", since_start());

  for (size_t c = 0; c < pipeline.categorical().size(); ++c) {
    const ColumnChain& chain = pipeline.categorical()[c];
    const int64_t cardinality = chain.ops[0]->cardinality();
    AIOK_CHECK(cardinality <= INT32_MAX, ErrorKind::kConfig,
               "column {}: {} ids do not fit the int32 shard format", chain.column, cardinality);
    schema.features.categorical[c].cardinality = cardinality;
  }
  saving_state.get();  // rethrows what writing the state threw
  schema.source = SourceJson(options.input, source.format(), read.bytes, lines, truth.get());
  schema.input_schema = data::CriteoTableSchema(true).ToJson();
  schema.rejected = read.rejected;
  schema.pipeline = spec.ToJson();
  schema.split_rule = split_rule.text();
  WriteFileAtomic(dir + "/schema.json", schema.ToJson().dump(2) + "\n");
  staging.Publish();
  spdlog::debug("etl: output in place at {:.3f}s", since_start());

  EtlSummary summary;
  summary.lines = read.lines;
  summary.rows = read.rows;
  summary.rejected = read.rejected;
  summary.input_bytes = read.bytes;
  summary.seconds = since_start();
  return summary;
}

}  // namespace aiok::etl
