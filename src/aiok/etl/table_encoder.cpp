#include "aiok/etl/table_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aiok/core/error.h"
#include "aiok/core/threads.h"

namespace aiok::etl {
namespace {

double BitsToDouble(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
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

// A label mapping turned into the stored form of its two values, once per batch.
class StoredLabels {
 public:
  StoredLabels(const LabelMapping& mapping, bool text) : mapping_(mapping), text_(text) {
    if (mapping.positive.empty())
      return;
    positive_ = text ? BitsToDouble(HashBytes(mapping.positive)) : std::stod(mapping.positive);
    negative_ = text ? BitsToDouble(HashBytes(mapping.negative)) : std::stod(mapping.negative);
  }

  // The label of a stored value; false with what was expected when it does not fit.
  bool Map(double stored, float* label, std::string* problem) const {
    if (!mapping_.positive.empty()) {
      // Compared bit for bit: a text label's hash is not a number.
      if (std::memcmp(&stored, &positive_, sizeof stored) == 0 || stored == positive_) {
        *label = 1.0f;
        return true;
      }
      if (std::memcmp(&stored, &negative_, sizeof stored) == 0 || stored == negative_) {
        *label = 0.0f;
        return true;
      }
      *problem = fmt::format("label '{}' or '{}'", mapping_.positive, mapping_.negative);
      return false;
    }
    if (text_) {
      *problem = "a numeric label (or a label mapping for text labels)";
      return false;
    }
    if (!std::isfinite(stored)) {
      *problem = fmt::format("a finite label, found {}", stored);
      return false;
    }
    if (mapping_.task == data::Task::kBinary && stored != 0.0 && stored != 1.0) {
      *problem = fmt::format("a binary label 0 or 1, found {}", stored);
      return false;
    }
    *label = static_cast<float>(stored);
    return true;
  }

 private:
  const LabelMapping& mapping_;
  bool text_;
  double positive_ = 0;
  double negative_ = 0;
};

}  // namespace

std::vector<int64_t> RecordSplits::RowsOf(const std::vector<int64_t>& records,
                                          data::SplitIndex split) const {
  std::vector<int64_t> rows;
  if (rule.contiguous()) {
    // Records ascend, so a contiguous split's rows are one run.
    const data::RowRange range = split == data::kTrainSplit   ? ranges.train
                                 : split == data::kValidSplit ? ranges.valid
                                                              : ranges.test;
    const auto begin = std::lower_bound(records.begin(), records.end(), range.begin);
    const auto end = std::lower_bound(begin, records.end(), range.end);
    for (auto it = begin; it != end; ++it)
      rows.push_back(it - records.begin());
    return rows;
  }
  for (size_t r = 0; r < records.size(); ++r) {
    if (Of(records[r]) == split)
      rows.push_back(static_cast<int64_t>(r));
  }
  return rows;
}

TableEncoder::TableEncoder(const data::TableSchema& schema, Pipeline& pipeline, std::string source)
    : schema_(schema),
      pipeline_(pipeline),
      source_(std::move(source)),
      binding_(schema, pipeline),
      column_locks_(pipeline.categorical().size()) {
  for (const ColumnChain& chain : pipeline.dense()) {
    if (chain.FitPhases() > 0)
      raw_dense_ = true;
  }
  if (binding_.label_field >= 0) {
    text_label_ = schema.fields[static_cast<size_t>(binding_.label_field)].type.value ==
                  data::ValueType::kString;
  }
  categorical_.resize(pipeline.categorical().size());
  auto bind = [&](const std::vector<int>& fields, const std::vector<size_t>& chains, bool list) {
    for (size_t i = 0; i < fields.size(); ++i) {
      CategoricalColumn& column = categorical_[chains[i]];
      column.field = fields[i];
      column.chain = chains[i];
      column.list = list;
      column.slot = i;
      const ColumnChain& chain = pipeline.categorical()[chains[i]];
      AIOK_CHECK(chain.ops.size() == 1, ErrorKind::kNotImplemented,
                 "column {}: a categorical chain is one operator that makes ids, found {}",
                 chain.column, chain.ops.size());
      const Operator& op = *chain.ops[0];
      AIOK_CHECK(!op.needs_fit() || op.supports_codes(), ErrorKind::kNotImplemented,
                 "column {}: operator '{}' needs fitting but cannot encode rows while it fits",
                 chain.column, op.name());
      column.coded = op.needs_fit();
    }
  };
  bind(binding_.categorical_fields, binding_.categorical_chains, false);
  bind(binding_.jagged_fields, binding_.jagged_chains, true);
}

EncodedBatch TableEncoder::Encode(const data::TableBatch& batch) {
  const auto rows = static_cast<size_t>(batch.rows);
  const FieldBinding& b = binding_;
  auto column_of = [&](int field) -> const data::ColumnValues& {
    return batch.columns[static_cast<size_t>(field)];
  };
  EncodedBatch out;
  out.lines = batch.RowRecords();
  if (b.label_field >= 0) {
    const data::ColumnValues& labels = column_of(b.label_field);
    out.labels.resize(rows);
    if (text_label_) {
      for (size_t r = 0; r < rows; ++r)
        out.labels[r] = BitsToDouble(HashBytes(labels.string(r)));
    } else {
      DenseValues(labels, 0, rows, out.labels.data());
    }
  }
  if (b.weight_field >= 0) {
    std::vector<double> weights(rows);
    DenseValues(column_of(b.weight_field), 0, rows, weights.data());
    out.weights.resize(rows);
    for (size_t r = 0; r < rows; ++r) {
      AIOK_CHECK(std::isfinite(weights[r]) && weights[r] >= 0, ErrorKind::kInvalidInput,
                 "{}: record {}: expected a finite non-negative weight, found {}", source_,
                 out.lines[r] + 1, weights[r]);
      out.weights[r] = static_cast<float>(weights[r]);
    }
  }

  // Dense columns: final values now, or raw ones for the fit.
  const size_t n_dense = b.dense_fields.size();
  if (raw_dense_) {
    out.raw_dense.resize(rows * n_dense);
    for (size_t d = 0; d < n_dense; ++d)
      DenseValues(column_of(b.dense_fields[d]), 0, rows, out.raw_dense.data() + d * rows);
  } else {
    out.dense.resize(rows * n_dense);
    std::vector<double> values(rows);
    for (size_t d = 0; d < n_dense; ++d) {
      DenseValues(column_of(b.dense_fields[d]), 0, rows, values.data());
      const ColumnChain& chain = pipeline_.dense()[d];
      chain.TransformDensePrefix(values.data(), rows, chain.ops.size());
      float* column = out.dense.data() + d * rows;
      for (size_t r = 0; r < rows; ++r)
        column[r] = static_cast<float>(values[r]);
    }
  }

  // Categorical columns and lists: where each one's codes go.
  const size_t n_cat = b.categorical_features();
  out.categorical.resize(rows * n_cat);
  out.list_offsets.resize(b.jagged_fields.size() * (rows + 1));
  int64_t list_values = 0;
  for (size_t j = 0; j < b.jagged_fields.size(); ++j) {
    const data::ColumnValues& column = column_of(b.jagged_fields[j]);
    int64_t* offsets = out.list_offsets.data() + j * (rows + 1);
    for (size_t r = 0; r <= rows; ++r)
      offsets[r] = list_values + column.list_offsets[r];
    list_values += column.list_offsets[rows];
  }
  out.list_codes.resize(static_cast<size_t>(list_values));
  for (size_t t = 0; t < b.time_fields.size(); ++t) {
    const size_t hour = b.categorical_fields.size() + 2 * t;
    TimeParts(column_of(b.time_fields[t]), rows, 1, out.categorical.data() + hour * rows,
              out.categorical.data() + (hour + 1) * rows);
  }
  std::vector<int64_t> keys;
  std::vector<int64_t> wide_ids;
  auto encode_column = [&](size_t c) {
    const CategoricalColumn& column = categorical_[c];
    const data::ColumnValues& values = column_of(column.field);
    size_t n = rows;
    int32_t* codes = out.categorical.data() + column.slot * rows;
    if (column.list) {
      const int64_t* offsets = out.list_offsets.data() + column.slot * (rows + 1);
      n = static_cast<size_t>(offsets[rows] - offsets[0]);
      codes = out.list_codes.data() + offsets[0];
    }
    keys.resize(n);
    CategoricalKeys(values, 0, n, keys.data());
    Operator& op = *pipeline_.categorical()[column.chain].ops[0];
    if (column.coded) {
      op.FitEncode(keys.data(), n, n, codes);
      return;
    }
    wide_ids.resize(n);
    op.TransformCategorical(keys.data(), n, wide_ids.data());
    for (size_t i = 0; i < n; ++i)
      codes[i] = static_cast<int32_t>(wide_ids[i]);
  };
  // A column that fits is encoded under its lock; when another batch holds it, do other
  // columns first, and wait only when every remaining column is busy.
  std::vector<size_t> pending;
  for (size_t c = 0; c < categorical_.size(); ++c)
    pending.push_back(c);
  while (!pending.empty()) {
    std::vector<size_t> busy;
    for (size_t c : pending) {
      if (!categorical_[c].coded) {
        encode_column(c);
        continue;
      }
      std::unique_lock<std::mutex> lock(column_locks_[c], std::try_to_lock);
      if (lock.owns_lock()) {
        encode_column(c);
      } else {
        busy.push_back(c);
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

void TableEncoder::Uncount(const BatchStore& store, const RecordSplits& splits, int threads) {
  // The rows of each batch that are not train rows. Under a contiguous rule only the last
  // batches have any: walk back from the last until one lies wholly in train.
  std::vector<std::shared_ptr<const EncodedBatch>> batches;
  std::vector<std::vector<int64_t>> others;
  for (int64_t index = store.batches() - 1; index >= 0; --index) {
    std::shared_ptr<const EncodedBatch> batch = store.Read(index);
    std::vector<int64_t> rows;
    for (const data::SplitIndex split : {data::kValidSplit, data::kTestSplit}) {
      const std::vector<int64_t> of_split = splits.RowsOf(batch->lines, split);
      rows.insert(rows.end(), of_split.begin(), of_split.end());
    }
    if (rows.empty() && batch->rows() > 0 && splits.rule.contiguous())
      break;
    batches.push_back(std::move(batch));
    others.push_back(std::move(rows));
  }
  ParallelFor(static_cast<int64_t>(categorical_.size()), threads, [&](int64_t c) {
    const CategoricalColumn& column = categorical_[static_cast<size_t>(c)];
    if (!column.coded)
      return;
    Operator& op = *pipeline_.categorical()[column.chain].ops[0];
    std::vector<int32_t> codes;
    for (size_t b = 0; b < batches.size(); ++b) {
      const EncodedBatch& batch = *batches[b];
      const auto rows = static_cast<size_t>(batch.rows());
      codes.clear();
      for (const int64_t r : others[b]) {
        if (!column.list) {
          codes.push_back(batch.categorical[column.slot * rows + static_cast<size_t>(r)]);
          continue;
        }
        const int64_t* offsets = batch.list_offsets.data() + column.slot * (rows + 1);
        codes.insert(codes.end(), batch.list_codes.begin() + offsets[r],
                     batch.list_codes.begin() + offsets[r + 1]);
      }
      op.UncountCodes(codes.data(), codes.size());
    }
  });
}

FinishedBatch TableEncoder::Finish(EncodedBatch batch, const LabelMapping& label) const {
  const auto rows = static_cast<size_t>(batch.rows());
  const FieldBinding& b = binding_;
  const size_t n_dense = b.dense_fields.size();
  const size_t n_cat = b.categorical_features();
  data::FeatureLayout layout = Layout(label.task);
  FinishedBatch out;
  out.features = data::AllocateFeatureBatch(layout, static_cast<int64_t>(rows), true);
  data::FeatureBatchStorage& storage = *out.features.storage;
  const StoredLabels labels(label, text_label_);
  std::string problem;
  for (size_t r = 0; r < rows; ++r) {
    AIOK_CHECK(labels.Map(batch.labels[r], &storage.labels[r], &problem), ErrorKind::kInvalidInput,
               "{}: record {}: expected {}", source_, batch.lines[r] + 1, problem);
  }
  if (b.weight_field >= 0)
    std::copy(batch.weights.begin(), batch.weights.end(), storage.weights.begin());
  // Codes become ids a block of rows at a time, on their way from columns to rows: the
  // batch's codes are read once and the rows written once.
  int32_t ids[kBlockRows];
  std::vector<const CategoricalColumn*> scalar(n_cat, nullptr);
  for (const CategoricalColumn& column : categorical_) {
    if (!column.list)
      scalar[column.slot] = &column;
  }
  ColumnsToRows(
      rows, n_cat,
      [&](size_t c, size_t begin, size_t count) -> const int32_t* {
        const int32_t* codes = batch.categorical.data() + c * rows + begin;
        if (scalar[c] == nullptr || !scalar[c]->coded)
          return codes;  // a time part, or ids already
        pipeline_.categorical()[scalar[c]->chain].ops[0]->MapCodes(codes, count, ids);
        return ids;
      },
      storage.categorical.data());
  for (const CategoricalColumn& column : categorical_) {
    if (!column.list)
      continue;
    const int64_t* offsets = batch.list_offsets.data() + column.slot * (rows + 1);
    std::vector<int64_t>& out_offsets = storage.offsets[column.slot];
    for (size_t r = 0; r <= rows; ++r)
      out_offsets[r] = offsets[r] - offsets[0];
    std::vector<int32_t>& values = storage.values[column.slot];
    values.resize(static_cast<size_t>(offsets[rows] - offsets[0]));
    const int32_t* codes = batch.list_codes.data() + offsets[0];
    if (column.coded) {
      pipeline_.categorical()[column.chain].ops[0]->MapCodes(codes, values.size(), values.data());
    } else {
      std::copy(codes, codes + values.size(), values.begin());
    }
  }
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
  out.lines = std::move(batch.lines);
  out.features.ViewStorage();
  return out;
}

void FitDensePhase(Pipeline& pipeline, int phase, const BatchStore& store,
                   const RecordSplits& splits, int threads) {
  auto& dense = pipeline.dense();
  const size_t n_dense = dense.size();
  const bool any = std::any_of(dense.begin(), dense.end(), [&](const ColumnChain& chain) {
    return chain.FitOperatorOfPhase(phase).has_value();
  });
  for (int64_t index = 0; any && index < store.batches(); ++index) {
    const std::shared_ptr<const EncodedBatch> batch = store.Read(index);
    const auto rows = static_cast<size_t>(batch->rows());
    const std::vector<int64_t> train = splits.RowsOf(batch->lines, data::kTrainSplit);
    if (train.empty() && rows > 0 && splits.rule.contiguous())
      break;  // batches are in record order: no train rows follow
    if (train.empty())
      continue;
    ParallelFor(static_cast<int64_t>(n_dense), threads, [&](int64_t d) {
      ColumnChain& chain = dense[static_cast<size_t>(d)];
      const auto op = chain.FitOperatorOfPhase(phase);
      if (!op)
        return;
      const double* column = batch->raw_dense.data() + static_cast<size_t>(d) * rows;
      std::vector<double> values(train.size());
      for (size_t i = 0; i < train.size(); ++i)
        values[i] = column[train[i]];
      chain.TransformDensePrefix(values.data(), values.size(), *op);
      chain.ops[*op]->FitDense(values.data(), values.size());
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
    if (auto op = chains[static_cast<size_t>(i)]->FitOperatorOfPhase(phase))
      chains[static_cast<size_t>(i)]->ops[*op]->FinishFit();
  });
}

}  // namespace aiok::etl
