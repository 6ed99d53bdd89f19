#include "aiok/etl/criteo_etl.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>

#include "aiok/core/atomic_file.h"
#include "aiok/core/error.h"
#include "aiok/core/progress.h"
#include "aiok/core/threads.h"
#include "aiok/data/criteo_layout.h"
#include "aiok/data/criteo_source.h"
#include "aiok/data/dataset.h"
#include "aiok/data/mapped_file.h"

namespace aiok::etl {
namespace {
namespace fs = std::filesystem;
using data::CriteoBatch;

std::vector<std::string> DenseNames() {
  std::vector<std::string> names;
  for (int d = 0; d < data::kCriteoDense; ++d) names.push_back(data::CriteoDenseName(d));
  return names;
}

std::vector<std::string> CategoricalNames() {
  std::vector<std::string> names;
  for (int c = 0; c < data::kCriteoCategorical; ++c) {
    names.push_back(data::CriteoCategoricalName(c));
  }
  return names;
}

// 0-based source line of each accepted row of a batch.
std::vector<int64_t> RowLines(const CriteoBatch& batch) {
  std::vector<int64_t> lines;
  lines.reserve(static_cast<size_t>(batch.rows));
  size_t next_reject = 0;
  for (int64_t line = batch.first_line; line < batch.first_line + batch.lines; ++line) {
    if (next_reject < batch.rejects.size() && batch.rejects[next_reject].line == line) {
      ++next_reject;
      continue;
    }
    lines.push_back(line - 1);
  }
  AIOK_ASSERT(static_cast<int64_t>(lines.size()) == batch.rows);
  return lines;
}

// Rows of `lines` (ascending) below `limit`.
int64_t RowsBelow(const std::vector<int64_t>& lines, int64_t limit) {
  return std::lower_bound(lines.begin(), lines.end(), limit) - lines.begin();
}

void ToDouble(const std::vector<int64_t>& raw, size_t n, std::vector<double>* out) {
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    (*out)[i] = raw[i] == data::kMissingDense ? NAN : static_cast<double>(raw[i]);
  }
}

// Index of the phase-th operator that needs fitting in `chain`, if any.
std::optional<size_t> FitOperatorOfPhase(const ColumnChain& chain, int phase) {
  int seen = 0;
  for (size_t i = 0; i < chain.ops.size(); ++i) {
    if (!chain.ops[i]->needs_fit()) continue;
    if (seen++ == phase) return i;
  }
  return std::nullopt;
}

// Parsed rows kept between passes. Categorical columns whose operator supports codes keep
// int32 codes instead of int64 values (the values are dropped once coded).
struct CachedBatch {
  CriteoBatch rows;
  std::vector<std::vector<int32_t>> codes;  // per categorical column; empty if not coded
};

// Feeds the first `train_rows` rows of a batch to the operators of fit phase `phase`. Safe
// to call for several batches at once: each column's operator is fitted under its lock in
// `column_locks` (categorical columns first, then dense), and a caller takes whichever
// column is free. With `codes`, operators that support codes encode every row of the batch
// as they fit (see Operator::FitEncode).
void FitBatch(Pipeline& pipeline, int phase, CriteoBatch& batch, int64_t train_rows,
              std::vector<std::vector<int32_t>>* codes, std::vector<std::mutex>& column_locks) {
  auto& dense = pipeline.dense();
  auto& categorical = pipeline.categorical();
  const auto n = static_cast<size_t>(train_rows);
  const auto rows = static_cast<size_t>(batch.rows);
  if (codes) codes->resize(categorical.size());
  auto fit_column = [&](size_t task) {
    if (task < categorical.size()) {
      ColumnChain& chain = categorical[task];
      if (!FitOperatorOfPhase(chain, phase)) return;
      Operator& op = *chain.ops[0];
      std::vector<int64_t>& values = batch.category[task];
      if (codes && op.supports_codes()) {
        std::vector<int32_t>& column_codes = (*codes)[task];
        column_codes.resize(rows);
        op.FitEncode(values.data(), rows, n, column_codes.data());
        values = {};  // the codes stand for the values from now on
      } else if (n > 0) {
        op.FitCategorical(values.data(), n);
      }
      return;
    }
    const size_t d = task - categorical.size();
    ColumnChain& chain = dense[d];
    const auto op = FitOperatorOfPhase(chain, phase);
    if (!op || n == 0) return;
    std::vector<double> values;
    ToDouble(batch.dense[d], n, &values);
    chain.TransformDensePrefix(values.data(), n, *op);
    chain.ops[*op]->FitDense(values.data(), n);
  };
  std::vector<size_t> pending(categorical.size() + dense.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  while (!pending.empty()) {
    bool progressed = false;
    for (auto it = pending.begin(); it != pending.end();) {
      std::unique_lock<std::mutex> lock(column_locks[*it], std::try_to_lock);
      if (!lock.owns_lock()) {
        ++it;
        continue;
      }
      fit_column(*it);
      it = pending.erase(it);
      progressed = true;
    }
    if (!progressed) {  // every remaining column is busy: wait for the first
      std::lock_guard<std::mutex> lock(column_locks[pending.front()]);
      fit_column(pending.front());
      pending.erase(pending.begin());
    }
  }
}

// Finishes the fit of phase `phase`, column by column in parallel (sorting vocabularies).
void FinishPhase(Pipeline& pipeline, int phase, int threads) {
  std::vector<ColumnChain*> chains;
  for (auto* group : {&pipeline.dense(), &pipeline.categorical()}) {
    for (ColumnChain& chain : *group) chains.push_back(&chain);
  }
  ParallelFor(static_cast<int64_t>(chains.size()), threads, [&](int64_t i) {
    if (auto op = FitOperatorOfPhase(*chains[i], phase)) chains[i]->ops[*op]->FinishFit();
  });
}

// A batch after the pipeline: what the shards hold.
struct TransformedBatch {
  std::vector<int64_t> lines;  // source line of each row
  std::vector<uint8_t> labels;
  std::vector<float> dense;        // rows x dense
  std::vector<int32_t> categorical;  // rows x categorical
};

TransformedBatch TransformBatch(const Pipeline& pipeline, CriteoBatch& batch,
                                const std::vector<std::vector<int32_t>>* codes, int threads) {
  const auto rows = static_cast<size_t>(batch.rows);
  const size_t n_dense = pipeline.dense().size();
  const size_t n_cat = pipeline.categorical().size();
  TransformedBatch out;
  out.lines = RowLines(batch);
  out.labels = std::move(batch.label);
  out.dense.resize(rows * n_dense);
  out.categorical.resize(rows * n_cat);
  ParallelFor(static_cast<int64_t>(n_cat + n_dense), threads, [&](int64_t task) {
    if (task < static_cast<int64_t>(n_cat)) {
      const Operator& op = *pipeline.categorical()[task].ops[0];
      std::vector<int32_t> ids(rows);
      if (codes && !(*codes)[task].empty()) {
        op.MapCodes((*codes)[task].data(), rows, ids.data());
      } else {
        std::vector<int64_t> wide_ids(rows);
        op.TransformCategorical(batch.category[task].data(), rows, wide_ids.data());
        for (size_t r = 0; r < rows; ++r) ids[r] = static_cast<int32_t>(wide_ids[r]);
      }
      for (size_t r = 0; r < rows; ++r) out.categorical[r * n_cat + task] = ids[r];
      return;
    }
    const size_t d = static_cast<size_t>(task) - n_cat;
    std::vector<double> values;
    ToDouble(batch.dense[d], rows, &values);
    pipeline.dense()[d].TransformDensePrefix(values.data(), rows, pipeline.dense()[d].ops.size());
    for (size_t r = 0; r < rows; ++r) out.dense[r * n_dense + d] = static_cast<float>(values[r]);
  });
  return out;
}

int64_t BatchBytes(const CachedBatch& batch) {
  int64_t bytes = batch.rows.rows * (1 + 8 * data::kCriteoDense);
  for (const auto& column : batch.rows.category) bytes += 8 * static_cast<int64_t>(column.size());
  for (const auto& column : batch.codes) bytes += 4 * static_cast<int64_t>(column.size());
  return bytes;
}

std::string IsoTime(time_t t) {
  char buffer[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// Refuses to replace anything but an earlier dataset directory.
void CheckReplaceable(const std::string& out_dir) {
  if (!fs::exists(out_dir)) return;
  AIOK_CHECK(fs::is_directory(out_dir), ErrorKind::kIo, "'{}' exists and is not a directory",
             out_dir);
  const bool empty = fs::directory_iterator(out_dir) == fs::directory_iterator();
  AIOK_CHECK(empty || fs::exists(out_dir + "/schema.json"), ErrorKind::kIo,
             "refusing to replace '{}': it exists and is not a dataset directory", out_dir);
}

void ReplaceDirectory(const std::string& temp, const std::string& out_dir) {
  const std::string old = out_dir + ".old-" + std::to_string(getpid());
  std::error_code ec;
  if (fs::exists(out_dir)) {
    fs::rename(out_dir, old, ec);
    AIOK_CHECK(!ec, ErrorKind::kIo, "cannot move old '{}' aside: {}", out_dir, ec.message());
  }
  fs::rename(temp, out_dir, ec);
  AIOK_CHECK(!ec, ErrorKind::kIo, "cannot rename '{}' to '{}': {}", temp, out_dir, ec.message());
  fs::remove_all(old, ec);
}

// Removes the temporary directory unless the run completed.
struct TempDirectory {
  std::string path;
  bool keep = false;
  ~TempDirectory() {
    std::error_code ec;
    if (!keep) fs::remove_all(path, ec);
  }
};

}  // namespace

EtlSummary RunCriteoEtl(const PipelineSpec& spec, const EtlOptions& options,
                        const RunContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  Pipeline pipeline(spec, DenseNames(), CategoricalNames(), "pipeline");
  CheckReplaceable(options.out_dir);

  // Split boundaries are source lines (rows for Parquet), so they do not move when lines are
  // rejected.
  auto since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const data::CriteoSource source(options.input, ctx.threads);
  spdlog::debug("etl: counted {} records in {:.3f}s", source.records(), since_start());
  const int64_t lines = source.records();
  const data::SplitRanges ranges = data::KaggleSplits(lines);

  TempDirectory temp{options.out_dir + ".tmp-" + std::to_string(getpid())};
  fs::remove_all(temp.path);
  fs::create_directories(temp.path);

  // Truth beside a generated input, aligned by line.
  std::unique_ptr<data::MappedFile> truth;
  const std::string truth_path = (fs::path(options.input).parent_path() / "truth.f32").string();
  if (fs::exists(truth_path)) {
    truth = std::make_unique<data::MappedFile>(truth_path);
    if (truth->size() != static_cast<size_t>(lines) * sizeof(float)) {
      spdlog::warn("ignoring {}: {} bytes, expected {} for {} lines", truth_path, truth->size(),
                   lines * 4, lines);
      truth.reset();
    }
  }

  std::unique_ptr<AtomicFileWriter> rejects;
  if (options.on_error == data::OnError::kSkip) {
    rejects = std::make_unique<AtomicFileWriter>(temp.path + "/rejects.tsv");
    rejects->Write("line\treason\n");
  }

  data::CriteoReaderOptions reader_options;
  reader_options.label = data::LabelField::kPresent;
  reader_options.on_error = options.on_error;
  EtlSummary summary;
  data::CriteoReadSummary read;

  // Operators that need no data are ready now.
  for (auto* group : {&pipeline.dense(), &pipeline.categorical()}) {
    for (ColumnChain& chain : *group) {
      for (auto& op : chain.ops) {
        if (!op->needs_fit()) op->FinishFit();
      }
    }
  }

  // Pass 1: parse, reject, fit phase 0 on train rows (coding rows while they are cached),
  // cache while it fits. Fitting runs on the reader's threads, batches side by side.
  std::vector<std::mutex> column_locks(data::kCriteoDense + data::kCriteoCategorical);
  std::vector<CachedBatch> cache(static_cast<size_t>(source.BatchCount(reader_options)));
  std::mutex cache_mutex;
  // Cache only if the whole input will fit (codes and dense values, ~209 bytes a row for the
  // Criteo layout); the running count below stays as a guard.
  constexpr int64_t kCachedBytesPerRow =
      1 + 8 * data::kCriteoDense + 4 * data::kCriteoCategorical;
  const int64_t cache_budget = options.cache_mb * (int64_t{1} << 20);
  bool cached = lines * kCachedBytesPerRow <= cache_budget;
  int64_t cache_bytes = 0;
  const int phases = pipeline.FitPhases();
  auto train_rows_of = [&](const CriteoBatch& batch) {
    return RowsBelow(RowLines(batch), ranges.train.end);
  };
  {
    Progress progress("etl: parse and fit", lines, "lines");
    read = source.Read(
        reader_options, ctx,
        [&](CriteoBatch& batch) {
          for (const auto& reject : batch.rejects) {
            rejects->Write(fmt::format("{}\t{}\n", reject.line, reject.reason));
          }
        },
        [&](CriteoBatch& batch, int64_t index) {
          CachedBatch entry;
          bool keep;
          {
            std::lock_guard<std::mutex> lock(cache_mutex);
            keep = cached;
          }
          if (phases > 0) {
            FitBatch(pipeline, 0, batch, train_rows_of(batch), keep ? &entry.codes : nullptr,
                     column_locks);
          }
          progress.Advance(batch.lines);
          if (!keep) return;
          entry.rows = std::move(batch);
          std::lock_guard<std::mutex> lock(cache_mutex);
          if (!cached) return;
          cache_bytes += BatchBytes(entry);
          if (cache_bytes > cache_budget) {
            cached = false;
            cache = {};
            return;
          }
          cache[static_cast<size_t>(index)] = std::move(entry);
        });
  }
  summary.input_passes = 1;
  spdlog::debug("etl: parsed and fitted at {:.3f}s", since_start());
  if (phases > 0) FinishPhase(pipeline, 0, ctx.threads);
  spdlog::debug("etl: fit finished at {:.3f}s", since_start());

  // Later fit phases (dense chains with several fitted operators) go over the cache or read
  // the input again.
  for (int phase = 1; phase < phases; ++phase) {
    Progress progress("etl: fit", lines, "lines");
    auto fit = [&](CriteoBatch& batch, int64_t) {
      FitBatch(pipeline, phase, batch, train_rows_of(batch), nullptr, column_locks);
      progress.Advance(batch.lines);
    };
    if (cached) {
      ParallelFor(static_cast<int64_t>(cache.size()), ctx.threads,
                  [&](int64_t i) { fit(cache[i].rows, i); });
    } else {
      ++summary.input_passes;
      source.Read(reader_options, ctx, [](CriteoBatch&) {}, fit);
    }
    FinishPhase(pipeline, phase, ctx.threads);
  }

  // Transform and write every split.
  data::DatasetSchema schema;
  schema.dense_columns = DenseNames();
  schema.categorical_columns = CategoricalNames();
  for (const auto& chain : pipeline.categorical()) {
    const int64_t cardinality = chain.ops[0]->cardinality();
    AIOK_CHECK(cardinality <= INT32_MAX, ErrorKind::kConfig,
               "column {}: {} ids do not fit the int32 shard format", chain.column, cardinality);
    schema.cardinalities.push_back(cardinality);
  }
  const std::vector<data::RowRange> split_lines = {ranges.train, ranges.valid, ranges.test};
  for (size_t s = 0; s < split_lines.size(); ++s) {
    schema.splits.push_back(data::SplitInfo{data::SplitNames()[s], split_lines[s], 0, {}, ""});
  }
  std::vector<std::unique_ptr<data::SplitWriter>> writers;
  for (auto& split : schema.splits) {
    writers.push_back(std::make_unique<data::SplitWriter>(
        temp.path, &split, data::kCriteoDense, data::kCriteoCategorical, options.shard_rows));
  }
  auto write = [&](const TransformedBatch& t) {
    const int64_t bounds[4] = {0, RowsBelow(t.lines, ranges.train.end),
                               RowsBelow(t.lines, ranges.valid.end),
                               static_cast<int64_t>(t.lines.size())};
    for (int s = 0; s < 3; ++s) {
      const int64_t begin = bounds[s];
      const int64_t rows = bounds[s + 1] - begin;
      if (rows == 0) continue;
      writers[s]->Append(t.labels.data() + begin, t.dense.data() + begin * data::kCriteoDense,
                         t.categorical.data() + begin * data::kCriteoCategorical, rows);
      if (truth) {
        const auto* all = reinterpret_cast<const float*>(truth->data());
        std::vector<float> values(static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r) values[r] = all[t.lines[begin + r]];
        writers[s]->AppendTruth(values.data(), rows);
      }
    }
  };
  {
    Progress progress("etl: transform", lines, "lines");
    if (cached) {
      // Batches transform in parallel, one per thread, and are written in order.
      OrderedTurns turns;
      ParallelFor(static_cast<int64_t>(cache.size()), ctx.threads, [&](int64_t i) {
        try {
          ctx.cancel->ThrowIfCancelled();
          const TransformedBatch t = TransformBatch(pipeline, cache[i].rows, &cache[i].codes, 1);
          turns.Commit(i, [&] { write(t); });
          progress.Advance(cache[i].rows.lines);
          cache[i] = CachedBatch();  // free as we go
        } catch (...) {
          turns.Abort();
          throw;
        }
      });
    } else {
      ++summary.input_passes;
      // Each reader thread transforms its own batch; writes still go in file order.
      OrderedTurns turns;
      source.Read(
          reader_options, ctx, [](CriteoBatch&) {},
          [&](CriteoBatch& batch, int64_t index) {
            try {
              const TransformedBatch t = TransformBatch(pipeline, batch, nullptr, 1);
              turns.Commit(index, [&] { write(t); });
              progress.Advance(batch.lines);
            } catch (...) {
              turns.Abort();
              throw;
            }
          });
    }
  }
  for (auto& writer : writers) writer->Close();
  spdlog::debug("etl: transformed and written at {:.3f}s", since_start());
  if (rejects) rejects->Commit();

  fs::create_directories(temp.path + "/etl_state");
  WriteFileAtomic(temp.path + "/etl_state/pipeline.json", pipeline.SaveState().dump() + "\n");
  struct stat info {};
  ::stat(options.input.c_str(), &info);
  schema.source = {{"path", fs::absolute(options.input).string()},
                   {"format", source.format()},
                   {"bytes", read.bytes},
                   {"mtime", IsoTime(info.st_mtime)},
                   {"lines", lines}};
  if (truth) schema.source["truth"] = fs::absolute(truth_path).string();
  schema.rejected = read.rejected;
  schema.pipeline = spec.ToJson();
  WriteFileAtomic(temp.path + "/schema.json", schema.ToJson().dump(2) + "\n");
  spdlog::debug("etl: state and schema written at {:.3f}s", since_start());
  ReplaceDirectory(temp.path, options.out_dir);
  spdlog::debug("etl: output in place at {:.3f}s", since_start());
  temp.keep = true;

  summary.lines = read.lines;
  summary.rows = read.rows;
  summary.rejected = read.rejected;
  summary.input_bytes = read.bytes;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace aiok::etl
