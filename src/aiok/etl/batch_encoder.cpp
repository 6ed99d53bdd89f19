#include "aiok/etl/batch_encoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "aiok/core/error.h"
#include "aiok/core/threads.h"
#include "aiok/data/mapped_file.h"

namespace aiok::etl {
namespace {

// Index of the phase-th operator that needs fitting in `chain`, if any.
std::optional<size_t> FitOperatorOfPhase(const ColumnChain& chain, int phase) {
  int seen = 0;
  for (size_t i = 0; i < chain.ops.size(); ++i) {
    if (!chain.ops[i]->needs_fit())
      continue;
    if (seen++ == phase)
      return i;
  }
  return std::nullopt;
}

void ToDouble(const std::vector<int64_t>& raw, size_t n, double* out) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = raw[i] == data::kMissingDense ? NAN : static_cast<double>(raw[i]);
  }
}

}  // namespace

BatchEncoder::BatchEncoder(Pipeline& pipeline)
    : pipeline_(pipeline), column_locks_(pipeline.dense().size() + pipeline.categorical().size()) {
  for (const ColumnChain& chain : pipeline.dense()) {
    if (chain.FitPhases() > 0)
      raw_dense_ = true;
  }
  for (const ColumnChain& chain : pipeline.categorical()) {
    const Operator& op = *chain.ops[0];
    AIOK_CHECK(!op.needs_fit() || op.supports_codes(), ErrorKind::kNotImplemented,
               "column {}: operator '{}' needs fitting but cannot encode rows while it fits",
               chain.column, op.name());
    coded_.push_back(op.needs_fit());
  }
}

EncodedBatch BatchEncoder::Encode(data::CriteoBatch& batch, int64_t train_end_line) {
  auto& dense = pipeline_.dense();
  auto& categorical = pipeline_.categorical();
  const auto rows = static_cast<size_t>(batch.rows);
  const size_t n_dense = dense.size();
  const size_t n_cat = categorical.size();
  EncodedBatch out;
  out.lines = data::RowLines(batch);
  // Rows are in line order, so the training rows are a prefix.
  const auto n_train = static_cast<size_t>(
      std::lower_bound(out.lines.begin(), out.lines.end(), train_end_line) - out.lines.begin());
  out.labels = std::move(batch.label);
  out.categorical.resize(rows * n_cat);
  if (raw_dense_) {
    out.raw_dense.resize(rows * n_dense);
  } else {
    out.dense.resize(rows * n_dense);
  }
  std::vector<int32_t> ids(rows);
  std::vector<int64_t> wide_ids;
  std::vector<double> values(rows);

  auto encode_column = [&](size_t task) {
    if (task < n_cat) {
      const Operator& op = *categorical[task].ops[0];
      if (coded_[task]) {
        categorical[task].ops[0]->FitEncode(batch.category[task].data(), rows, n_train, ids.data());
      } else {
        wide_ids.resize(rows);
        op.TransformCategorical(batch.category[task].data(), rows, wide_ids.data());
        for (size_t r = 0; r < rows; ++r)
          ids[r] = static_cast<int32_t>(wide_ids[r]);
      }
      for (size_t r = 0; r < rows; ++r)
        out.categorical[r * n_cat + task] = ids[r];
      return;
    }
    const size_t d = task - n_cat;
    const ColumnChain& chain = dense[d];
    ToDouble(batch.dense[d], rows, values.data());
    if (!raw_dense_) {
      chain.TransformDensePrefix(values.data(), rows, chain.ops.size());
      for (size_t r = 0; r < rows; ++r)
        out.dense[r * n_dense + d] = static_cast<float>(values[r]);
      return;
    }
    for (size_t r = 0; r < rows; ++r)
      out.raw_dense[r * n_dense + d] = values[r];
    if (const auto op = FitOperatorOfPhase(chain, 0); op && n_train > 0) {
      chain.TransformDensePrefix(values.data(), n_train, *op);
      dense[d].ops[*op]->FitDense(values.data(), n_train);
    }
  };

  // A column that fits is encoded under its lock; when another batch holds it, do other
  // columns first, and wait only when every remaining column is busy.
  auto fits = [&](size_t task) {
    return task < n_cat ? coded_[task]
                        : raw_dense_ && FitOperatorOfPhase(dense[task - n_cat], 0).has_value();
  };
  std::vector<size_t> pending;
  for (size_t task = 0; task < n_cat + n_dense; ++task)
    pending.push_back(task);
  while (!pending.empty()) {
    std::vector<size_t> busy;
    for (size_t task : pending) {
      if (!fits(task)) {
        encode_column(task);
        continue;
      }
      std::unique_lock<std::mutex> lock(column_locks_[task], std::try_to_lock);
      if (lock.owns_lock()) {
        encode_column(task);
      } else {
        busy.push_back(task);
      }
    }
    if (!busy.empty() && busy.size() == pending.size()) {
      std::lock_guard<std::mutex> lock(column_locks_[busy.front()]);
      encode_column(busy.front());
      busy.erase(busy.begin());
    }
    pending.swap(busy);
  }
  return out;
}

void FitDensePhase(Pipeline& pipeline, int phase, const std::string& dir,
                   const data::SplitInfo& train, int threads) {
  auto& dense = pipeline.dense();
  const size_t n_dense = dense.size();
  ParallelFor(static_cast<int64_t>(n_dense), threads, [&](int64_t d) {
    ColumnChain& chain = dense[d];
    const auto op = FitOperatorOfPhase(chain, phase);
    if (!op)
      return;
    for (const data::ShardInfo& shard : train.shards) {
      const data::MappedFile raw(dir + "/" + data::RawDenseFile(shard));
      const auto* all = reinterpret_cast<const double*>(raw.data());
      const auto rows = static_cast<size_t>(shard.rows);
      std::vector<double> values(rows);
      for (size_t r = 0; r < rows; ++r)
        values[r] = all[r * n_dense + d];
      chain.TransformDensePrefix(values.data(), rows, *op);
      chain.ops[*op]->FitDense(values.data(), rows);
    }
  });
  FinishFitPhase(pipeline, phase, threads);
}

void FinishShards(const Pipeline& pipeline, const BatchEncoder& encoder, const std::string& dir,
                  const std::vector<const data::ShardInfo*>& shards, int threads,
                  Progress* progress) {
  const size_t n_cat = pipeline.categorical().size();
  const size_t n_dense = pipeline.dense().size();
  const bool any_coded =
      std::find(encoder.coded().begin(), encoder.coded().end(), true) != encoder.coded().end();
  // Map every shard's files once; blocks of rows then go to the threads.
  struct ShardFiles {
    std::unique_ptr<data::MappedFile> categorical;  // writable, when codes are to be mapped
    std::unique_ptr<data::MappedFile> raw_dense;
    std::unique_ptr<data::MappedFile> dense;  // writable, when raw values are to be finished
  };
  std::vector<ShardFiles> files(shards.size());
  struct Block {
    size_t shard;
    size_t begin;
    size_t end;
  };
  constexpr size_t kBlockRows = 65536;
  std::vector<Block> blocks;
  for (size_t s = 0; s < shards.size(); ++s) {
    const auto rows = static_cast<size_t>(shards[s]->rows);
    if (rows == 0)
      continue;
    if (any_coded) {
      files[s].categorical = std::make_unique<data::MappedFile>(
          dir + "/" + shards[s]->categorical_file, /*writable=*/true);
    }
    if (encoder.raw_dense()) {
      files[s].raw_dense =
          std::make_unique<data::MappedFile>(dir + "/" + data::RawDenseFile(*shards[s]));
      // The float32 file, created at its size now and filled block by block.
      const std::string dense_path = dir + "/" + shards[s]->dense_file;
      std::ofstream(dense_path, std::ios::binary | std::ios::trunc);
      std::filesystem::resize_file(dense_path, rows * n_dense * sizeof(float));
      files[s].dense = std::make_unique<data::MappedFile>(dir + "/" + shards[s]->dense_file,
                                                          /*writable=*/true);
    }
    for (size_t begin = 0; begin < rows; begin += kBlockRows) {
      blocks.push_back(Block{s, begin, std::min(rows, begin + kBlockRows)});
    }
  }
  ParallelFor(static_cast<int64_t>(blocks.size()), threads, [&](int64_t b) {
    const Block& block = blocks[b];
    const size_t rows = block.end - block.begin;
    const ShardFiles& f = files[block.shard];
    if (f.categorical) {
      auto* cat = reinterpret_cast<int32_t*>(f.categorical->mutable_data()) + block.begin * n_cat;
      std::vector<int32_t> codes(rows);
      std::vector<int32_t> ids(rows);
      for (size_t c = 0; c < n_cat; ++c) {
        if (!encoder.coded()[c])
          continue;
        for (size_t r = 0; r < rows; ++r)
          codes[r] = cat[r * n_cat + c];
        pipeline.categorical()[c].ops[0]->MapCodes(codes.data(), rows, ids.data());
        for (size_t r = 0; r < rows; ++r)
          cat[r * n_cat + c] = ids[r];
      }
    }
    if (f.raw_dense) {
      const auto* raw =
          reinterpret_cast<const double*>(f.raw_dense->data()) + block.begin * n_dense;
      auto* out = reinterpret_cast<float*>(f.dense->mutable_data()) + block.begin * n_dense;
      std::vector<double> values(rows);
      for (size_t d = 0; d < n_dense; ++d) {
        const ColumnChain& chain = pipeline.dense()[d];
        for (size_t r = 0; r < rows; ++r)
          values[r] = raw[r * n_dense + d];
        chain.TransformDensePrefix(values.data(), rows, chain.ops.size());
        for (size_t r = 0; r < rows; ++r)
          out[r * n_dense + d] = static_cast<float>(values[r]);
      }
    }
    // Done with these pages: drop them from this process (written pages stay in the page
    // cache for the file), so finishing a dataset larger than memory stays bounded too.
    if (f.categorical) {
      f.categorical->Release(block.begin * n_cat * sizeof(int32_t),
                             block.end * n_cat * sizeof(int32_t));
    }
    if (f.raw_dense) {
      f.raw_dense->Release(block.begin * n_dense * sizeof(double),
                           block.end * n_dense * sizeof(double));
      f.dense->Release(block.begin * n_dense * sizeof(float), block.end * n_dense * sizeof(float));
    }
    if (progress)
      progress->Advance(static_cast<int64_t>(rows));
  });
  for (size_t s = 0; s < shards.size(); ++s) {
    if (files[s].raw_dense) {
      files[s].raw_dense.reset();
      std::filesystem::remove(dir + "/" + data::RawDenseFile(*shards[s]));
    }
  }
}

void FinishFitPhase(Pipeline& pipeline, int phase, int threads) {
  std::vector<ColumnChain*> chains;
  for (auto* group : {&pipeline.dense(), &pipeline.categorical()}) {
    for (ColumnChain& chain : *group)
      chains.push_back(&chain);
  }
  ParallelFor(static_cast<int64_t>(chains.size()), threads, [&](int64_t i) {
    if (auto op = FitOperatorOfPhase(*chains[i], phase))
      chains[i]->ops[*op]->FinishFit();
  });
}

}  // namespace aiok::etl
