#include "aiok/etl/batch_encoder.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "aiok/core/error.h"
#include "aiok/core/threads.h"

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

void ToDouble(const int64_t* raw, size_t n, double* out) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = raw[i] == data::kMissingDense ? NAN : static_cast<double>(raw[i]);
  }
}

// Lays n columns of `rows` values out as rows (rows x n), kBlockRows rows at a time so that
// the block stays in cache while every column visits it. column_block(c, begin, count) gives
// the values of column c for rows [begin, begin + count), count <= kBlockRows.
constexpr size_t kBlockRows = 256;
template <typename Out, typename ColumnBlock>
void ColumnsToRows(size_t rows, size_t n, ColumnBlock&& column_block, Out* out) {
  for (size_t begin = 0; begin < rows; begin += kBlockRows) {
    const size_t count = std::min(rows - begin, kBlockRows);
    for (size_t c = 0; c < n; ++c) {
      const auto* values = column_block(c, begin, count);
      Out* row_major = out + begin * n + c;
      for (size_t r = 0; r < count; ++r)
        row_major[r * n] = static_cast<Out>(values[r]);
    }
  }
}

}  // namespace

size_t RowsBelow(const std::vector<int64_t>& lines, int64_t limit) {
  return static_cast<size_t>(std::lower_bound(lines.begin(), lines.end(), limit) - lines.begin());
}

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

EncodedBatch BatchEncoder::Encode(data::CriteoBatch& batch) {
  auto& dense = pipeline_.dense();
  auto& categorical = pipeline_.categorical();
  const auto rows = static_cast<size_t>(batch.rows);
  const size_t n_dense = dense.size();
  const size_t n_cat = categorical.size();
  EncodedBatch out;
  out.lines = data::RowLines(batch);
  out.labels = std::move(batch.label);
  out.categorical.resize(rows * n_cat);
  if (raw_dense_) {
    out.raw_dense.resize(rows * n_dense);
  } else {
    out.dense.resize(rows * n_dense);
  }
  std::vector<int64_t> wide_ids;
  std::vector<double> values(rows);

  auto encode_column = [&](size_t task) {
    if (task < n_cat) {
      int32_t* ids = out.categorical.data() + task * rows;
      Operator& op = *categorical[task].ops[0];
      if (coded_[task]) {
        op.FitEncode(batch.category[task].data(), rows, rows, ids);
      } else {
        wide_ids.resize(rows);
        op.TransformCategorical(batch.category[task].data(), rows, wide_ids.data());
        for (size_t r = 0; r < rows; ++r)
          ids[r] = static_cast<int32_t>(wide_ids[r]);
      }
      return;
    }
    const size_t d = task - n_cat;
    const ColumnChain& chain = dense[d];
    if (!raw_dense_) {
      ToDouble(batch.dense[d].data(), rows, values.data());
      chain.TransformDensePrefix(values.data(), rows, chain.ops.size());
      float* column = out.dense.data() + d * rows;
      for (size_t r = 0; r < rows; ++r)
        column[r] = static_cast<float>(values[r]);
      return;
    }
    ToDouble(batch.dense[d].data(), rows, out.raw_dense.data() + d * rows);
  };

  // A column that fits is encoded under its lock; when another batch holds it, do other
  // columns first, and wait only when every remaining column is busy.
  auto fits = [&](size_t task) { return task < n_cat && coded_[task]; };
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

void BatchEncoder::Uncount(const BatchStore& store, int64_t train_end_line, int threads) {
  // Batches are in line order: walk back from the last until one lies wholly in train.
  std::vector<std::shared_ptr<const EncodedBatch>> past_train;
  for (int64_t index = store.batches() - 1; index >= 0; --index) {
    std::shared_ptr<const EncodedBatch> batch = store.Read(index);
    if (batch->rows() > 0 && RowsBelow(batch->lines, train_end_line) == batch->lines.size())
      break;
    past_train.push_back(std::move(batch));
  }
  ParallelFor(static_cast<int64_t>(coded_.size()), threads, [&](int64_t c) {
    if (!coded_[static_cast<size_t>(c)])
      return;
    Operator& op = *pipeline_.categorical()[static_cast<size_t>(c)].ops[0];
    for (const auto& batch : past_train) {
      const auto rows = static_cast<size_t>(batch->rows());
      const size_t first = RowsBelow(batch->lines, train_end_line);
      op.UncountCodes(batch->categorical.data() + static_cast<size_t>(c) * rows + first,
                      rows - first);
    }
  });
}

FinishedBatch BatchEncoder::Finish(EncodedBatch batch) const {
  const auto rows = static_cast<size_t>(batch.rows());
  const size_t n_dense = pipeline_.dense().size();
  const size_t n_cat = pipeline_.categorical().size();
  FinishedBatch out;
  out.lines = std::move(batch.lines);
  out.features.rows = static_cast<int64_t>(rows);
  out.features.storage = std::make_shared<data::FeatureBatchStorage>();
  data::FeatureBatchStorage& storage = *out.features.storage;
  storage.labels.resize(rows);
  for (size_t r = 0; r < rows; ++r)
    storage.labels[r] = batch.labels[r];
  storage.categorical.resize(rows * n_cat);
  // Codes become ids a block of rows at a time, on their way from columns to rows: the
  // batch's codes are read once and the rows written once.
  int32_t ids[kBlockRows];
  ColumnsToRows(
      rows, n_cat,
      [&](size_t c, size_t begin, size_t count) -> const int32_t* {
        const int32_t* codes = batch.categorical.data() + c * rows + begin;
        if (!coded_[c])
          return codes;
        pipeline_.categorical()[c].ops[0]->MapCodes(codes, count, ids);
        return ids;
      },
      storage.categorical.data());
  storage.dense.resize(rows * n_dense);
  if (raw_dense_) {
    for (size_t d = 0; d < n_dense; ++d) {
      const ColumnChain& chain = pipeline_.dense()[d];
      chain.TransformDensePrefix(batch.raw_dense.data() + d * rows, rows, chain.ops.size());
    }
    ColumnsToRows(
        rows, n_dense,
        [&](size_t d, size_t begin, size_t) { return batch.raw_dense.data() + d * rows + begin; },
        storage.dense.data());
  } else {
    ColumnsToRows(
        rows, n_dense,
        [&](size_t d, size_t begin, size_t) { return batch.dense.data() + d * rows + begin; },
        storage.dense.data());
  }
  out.features.ViewStorage();
  return out;
}

void FitDensePhase(Pipeline& pipeline, int phase, const BatchStore& store, int64_t train_end_line,
                   int threads) {
  auto& dense = pipeline.dense();
  const size_t n_dense = dense.size();
  const bool any = std::any_of(dense.begin(), dense.end(), [&](const ColumnChain& chain) {
    return FitOperatorOfPhase(chain, phase).has_value();
  });
  for (int64_t index = 0; any && index < store.batches(); ++index) {
    const std::shared_ptr<const EncodedBatch> batch = store.Read(index);
    const auto rows = static_cast<size_t>(batch->rows());
    const size_t n_train = RowsBelow(batch->lines, train_end_line);
    if (n_train == 0 && rows > 0)
      break;  // batches are in line order: no train rows follow
    if (n_train == 0)
      continue;
    ParallelFor(static_cast<int64_t>(n_dense), threads, [&](int64_t d) {
      ColumnChain& chain = dense[static_cast<size_t>(d)];
      const auto op = FitOperatorOfPhase(chain, phase);
      if (!op)
        return;
      const double* column = batch->raw_dense.data() + static_cast<size_t>(d) * rows;
      std::vector<double> values(column, column + n_train);
      chain.TransformDensePrefix(values.data(), n_train, *op);
      chain.ops[*op]->FitDense(values.data(), n_train);
    });
  }
  FinishFitPhase(pipeline, phase, threads);
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
