#include "aiok/etl/table_encoder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "aiok/core/error.h"
#include "aiok/core/threads.h"
#include "aiok/etl/categorical_operators.h"

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
      chains_(pipeline.chains()),
      source_(std::move(source)),
      binding_(schema, pipeline),
      chain_locks_(chains_.size()) {
  if (binding_.label_field >= 0) {
    text_label_ = schema.fields[static_cast<size_t>(binding_.label_field)].type.value ==
                  data::ValueType::kString;
  }
  for (size_t c = 0; c < chains_.size(); ++c) {
    const ColumnChain& chain = *chains_[c];
    const BoundChain& bound = binding_.chains[c];
    ChainPlan plan;
    const bool fits = chain.FitPhases() > 0;
    if (!fits) {
      plan.handling = Handling::kReady;
    } else if (chain.ops.size() == 1 && chain.inputs.size() == 1 &&
               chain.ops[0]->supports_codes()) {
      plan.handling = Handling::kCoded;
    } else {
      AIOK_CHECK(!bound.list, ErrorKind::kNotImplemented,
                 "pipeline: the list field {} takes one dictionary operator (categorify) or "
                 "operators that need no fitting",
                 chain.column);
      plan.handling = Handling::kRaw;
    }
    for (size_t i = 1; i < chain.ops.size(); ++i) {
      AIOK_CHECK(!chain.ops[i]->out_of_fold(), ErrorKind::kConfig,
                 "pipeline: {}: {} encodes train rows out of fold and must be the first "
                 "operator of its chain",
                 chain.column, chain.ops[i]->name());
    }
    plan.vocabulary_owner = c;
    plans_.push_back(std::move(plan));
  }
  BindSharedVocabularies();
  BindCodeReaders();
  for (size_t c = 0; c < chains_.size(); ++c) {
    if (plans_[c].handling != Handling::kRaw)
      continue;
    for (size_t i = 0; i < chains_[c]->inputs.size(); ++i) {
      plans_[c].raw_columns.push_back(chains_[c]->kind == ColumnKind::kDense ? raw_dense_columns_++
                                                                             : raw_key_columns_++);
    }
  }
}

void TableEncoder::BindCodeReaders() {
  for (size_t c = 0; c < chains_.size(); ++c) {
    const ColumnChain& chain = *chains_[c];
    const BoundChain& bound = binding_.chains[c];
    if (plans_[c].handling != Handling::kRaw || chain.inputs.size() != 1 || bound.list ||
        chain.kind != ColumnKind::kCategorical || !chain.ops[0]->fits_codes())
      continue;
    // A coded chain of the same scalar field read as keys, as this chain reads it.
    for (size_t o = 0; o < chains_.size(); ++o) {
      const BoundChain& coded = binding_.chains[o];
      if (plans_[o].handling == Handling::kCoded && !coded.list &&
          chains_[o]->kind == ColumnKind::kCategorical && coded.fields == bound.fields) {
        plans_[c].handling = Handling::kFromCodes;
        plans_[c].codes_chain = o;
        spdlog::debug("etl: {} ({}) fits and encodes by the codes of {}", chain.column,
                      chain.ops[0]->name(), chains_[o]->column);
        break;
      }
    }
  }
}

void TableEncoder::BindSharedVocabularies() {
  auto shared_name = [&](size_t c) -> std::string {
    auto* categorify =
        dynamic_cast<Categorify*>(chains_[c]->ops.empty() ? nullptr : chains_[c]->ops[0].get());
    return categorify != nullptr ? categorify->options().vocabulary : std::string();
  };
  for (size_t c = 0; c < chains_.size(); ++c) {
    const std::string owner_name = shared_name(c);
    if (owner_name.empty())
      continue;
    const std::string& column = chains_[c]->column;
    AIOK_CHECK(plans_[c].handling == Handling::kCoded, ErrorKind::kConfig,
               "pipeline: {}: a categorify with `vocabulary` must be the field's only operator",
               column);
    size_t owner = chains_.size();
    for (size_t o = 0; o < chains_.size(); ++o) {
      if (chains_[o]->column == owner_name)
        owner = o;
    }
    AIOK_CHECK(owner < chains_.size(), ErrorKind::kConfig,
               "pipeline: {}: categorify vocabulary '{}' is not a field of the pipeline", column,
               owner_name);
    AIOK_CHECK(owner != c && shared_name(owner).empty() &&
                   plans_[owner].handling == Handling::kCoded &&
                   dynamic_cast<Categorify*>(chains_[owner]->ops[0].get()) != nullptr,
               ErrorKind::kConfig,
               "pipeline: {}: categorify vocabulary '{}' must be another field whose only "
               "operator is a categorify without `vocabulary` of its own",
               column, owner_name);
    // The same value must make the same key in both fields: strings hash, integers do not.
    const data::FieldType& a =
        schema_.fields[static_cast<size_t>(binding_.chains[c].fields[0])].type;
    const data::FieldType& b =
        schema_.fields[static_cast<size_t>(binding_.chains[owner].fields[0])].type;
    AIOK_CHECK(a.value == b.value && a.hex == b.hex, ErrorKind::kConfig,
               "pipeline: {} ({}) cannot share the vocabulary of {} ({}): their values have "
               "different types",
               column, a.Name(), owner_name, b.Name());
    plans_[c].vocabulary_owner = owner;
  }
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
  const size_t n_cat = b.categorical_features();
  out.dense.resize(rows * b.dense_features);
  out.categorical.resize(rows * n_cat);
  out.raw_dense.resize(rows * raw_dense_columns_);
  out.raw_keys.resize(rows * raw_key_columns_);
  // Lists: where each one's elements go.
  out.list_offsets.resize(b.jagged_features * (rows + 1));
  int64_t list_values = 0;
  for (const BoundChain& bound : b.chains) {
    if (!bound.list)
      continue;
    const data::ColumnValues& column = column_of(bound.fields[0]);
    int64_t* offsets = out.list_offsets.data() + bound.slot * (rows + 1);
    for (size_t r = 0; r <= rows; ++r)
      offsets[r] = list_values + column.list_offsets[r];
    list_values += column.list_offsets[rows];
  }
  out.list_codes.resize(static_cast<size_t>(list_values));
  for (size_t t = 0; t < b.time_fields.size(); ++t) {
    const size_t hour = b.scalar_categorical + 2 * t;
    TimeParts(column_of(b.time_fields[t]), rows, 1, out.categorical.data() + hour * rows,
              out.categorical.data() + (hour + 1) * rows);
  }

  auto encode_chain = [&](size_t c) {
    const ColumnChain& chain = *chains_[c];
    const BoundChain& bound = b.chains[c];
    const ChainPlan& plan = plans_[c];
    if (plan.handling == Handling::kFromCodes)
      return;  // its coded chain's codes are all it reads
    if (plan.handling == Handling::kRaw) {
      for (size_t i = 0; i < bound.fields.size(); ++i) {
        const data::ColumnValues& column = column_of(bound.fields[i]);
        if (chain.kind == ColumnKind::kDense) {
          DenseValues(column, 0, rows, out.raw_dense.data() + plan.raw_columns[i] * rows);
        } else {
          CategoricalKeys(column, 0, rows, out.raw_keys.data() + plan.raw_columns[i] * rows);
        }
      }
      return;
    }
    // Where the chain's ids go: its categorical column, or its list's elements.
    int32_t* ids = out.categorical.data() + bound.slot * rows;
    size_t n = rows;
    if (bound.list) {
      const int64_t* offsets = out.list_offsets.data() + bound.slot * (rows + 1);
      n = static_cast<size_t>(offsets[rows] - offsets[0]);
      ids = out.list_codes.data() + offsets[0];
    }
    std::vector<ChainColumn> inputs = ChainInputs(bound, chain, batch, rows);
    if (plan.handling == Handling::kCoded) {
      CodingOperator(c).FitEncode(inputs[0].ids.data(), n, n, ids);
      return;
    }
    const ChainColumn result = chain.Run(std::move(inputs), n, chain.ops.size());
    if (bound.output == ColumnKind::kDense) {
      float* dense = out.dense.data() + bound.slot * rows;
      for (size_t r = 0; r < rows; ++r)
        dense[r] = static_cast<float>(result.dense[r]);
      return;
    }
    for (size_t i = 0; i < n; ++i)
      ids[i] = static_cast<int32_t>(result.ids[i]);
  };
  // A chain that fits while encoding runs under its lock; when another batch holds it, do
  // other chains first, and wait only when every remaining chain is busy.
  std::vector<size_t> pending;
  for (size_t c = 0; c < chains_.size(); ++c)
    pending.push_back(c);
  while (!pending.empty()) {
    std::vector<size_t> busy;
    for (size_t c : pending) {
      if (plans_[c].handling != Handling::kCoded) {
        encode_chain(c);
        continue;
      }
      std::unique_lock<std::mutex> lock(chain_locks_[plans_[c].vocabulary_owner], std::try_to_lock);
      if (lock.owns_lock()) {
        encode_chain(c);
      } else {
        busy.push_back(c);
      }
    }
    if (!busy.empty() && busy.size() == pending.size()) {
      std::lock_guard<std::mutex> lock(chain_locks_[plans_[busy.front()].vocabulary_owner]);
      encode_chain(busy.front());
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
  // Chains that share a dictionary take their rows out of it one after another.
  ParallelFor(static_cast<int64_t>(chains_.size()), threads, [&](int64_t owner) {
    for (size_t c = 0; c < chains_.size(); ++c) {
      if (plans_[c].handling == Handling::kCoded &&
          plans_[c].vocabulary_owner == static_cast<size_t>(owner))
        UncountChain(c, batches, others);
    }
  });
}

void TableEncoder::UncountChain(size_t c,
                                const std::vector<std::shared_ptr<const EncodedBatch>>& batches,
                                const std::vector<std::vector<int64_t>>& others) {
  const BoundChain& bound = binding_.chains[c];
  Operator& op = CodingOperator(c);
  std::vector<int32_t> codes;
  for (size_t i = 0; i < batches.size(); ++i) {
    const EncodedBatch& batch = *batches[i];
    const auto rows = static_cast<size_t>(batch.rows());
    codes.clear();
    for (const int64_t r : others[i]) {
      if (!bound.list) {
        codes.push_back(batch.categorical[bound.slot * rows + static_cast<size_t>(r)]);
        continue;
      }
      const int64_t* offsets = batch.list_offsets.data() + bound.slot * (rows + 1);
      codes.insert(codes.end(), batch.list_codes.begin() + offsets[r],
                   batch.list_codes.begin() + offsets[r + 1]);
    }
    op.UncountCodes(codes.data(), codes.size());
  }
}

std::vector<ChainColumn> TableEncoder::RawInputs(const EncodedBatch& batch, size_t c,
                                                 const std::vector<int64_t>& rows) const {
  const ColumnChain& chain = *chains_[c];
  const auto stored = static_cast<size_t>(batch.rows());
  std::vector<ChainColumn> inputs;
  for (const size_t column : plans_[c].raw_columns) {
    ChainColumn input;
    input.kind = chain.kind;
    if (chain.kind == ColumnKind::kDense) {
      const double* values = batch.raw_dense.data() + column * stored;
      if (rows.empty()) {
        input.dense.assign(values, values + stored);
      } else {
        for (const int64_t r : rows)
          input.dense.push_back(values[r]);
      }
    } else {
      const int64_t* keys = batch.raw_keys.data() + column * stored;
      if (rows.empty()) {
        input.ids.assign(keys, keys + stored);
      } else {
        for (const int64_t r : rows)
          input.ids.push_back(keys[r]);
      }
    }
    inputs.push_back(std::move(input));
  }
  return inputs;
}

void TableEncoder::FitPhase(int phase, const BatchStore& store, const RecordSplits& splits,
                            const LabelMapping& label, int threads) {
  std::vector<size_t> fitted;  // raw and from-codes chains with an operator in this phase
  for (size_t c = 0; c < chains_.size(); ++c) {
    const Handling handling = plans_[c].handling;
    if ((handling == Handling::kRaw || handling == Handling::kFromCodes) &&
        chains_[c]->FitOperatorOfPhase(phase))
      fitted.push_back(c);
  }
  // What the codes stand for, handed over before the coded chains finish (and forget it).
  for (const size_t c : fitted) {
    if (plans_[c].handling == Handling::kFromCodes && chains_[c]->FitOperatorOfPhase(phase) == 0)
      chains_[c]->ops[0]->BeginCodes(CodingOperator(plans_[c].codes_chain).CodeValues());
  }
  const StoredLabels labels(label, text_label_);
  for (int64_t index = 0; !fitted.empty() && index < store.batches(); ++index) {
    const std::shared_ptr<const EncodedBatch> batch = store.Read(index);
    const std::vector<int64_t> train = splits.RowsOf(batch->lines, data::kTrainSplit);
    if (train.empty() && batch->rows() > 0 && splits.rule.contiguous())
      break;  // batches are in record order: no train rows follow
    if (train.empty())
      continue;
    std::vector<float> train_labels(train.size());
    std::string problem;
    for (size_t i = 0; i < train.size(); ++i) {
      const auto r = static_cast<size_t>(train[i]);
      AIOK_CHECK(labels.Map(batch->labels[r], &train_labels[i], &problem), ErrorKind::kInvalidInput,
                 "{}: record {}: expected {}", source_, batch->lines[r] + 1, problem);
    }
    std::vector<int64_t> train_records;
    for (const int64_t r : train)
      train_records.push_back(batch->lines[static_cast<size_t>(r)]);
    const std::vector<char> all_train(train.size(), 1);
    ParallelFor(static_cast<int64_t>(fitted.size()), threads, [&](int64_t i) {
      const size_t c = fitted[static_cast<size_t>(i)];
      ColumnChain& chain = *chains_[c];
      const size_t op = *chain.FitOperatorOfPhase(phase);
      Operator& fitting = *chain.ops[op];
      const bool from_codes = plans_[c].handling == Handling::kFromCodes;
      if (from_codes && op == 0) {
        const auto rows = static_cast<size_t>(batch->rows());
        const int32_t* all_codes =
            batch->categorical.data() + binding_.chains[plans_[c].codes_chain].slot * rows;
        std::vector<int32_t> codes(train.size());
        for (size_t j = 0; j < train.size(); ++j)
          codes[j] = all_codes[train[j]];
        std::vector<int32_t> folds;
        if (fitting.out_of_fold()) {
          for (const int64_t record : train_records)
            folds.push_back(fitting.FoldOf(record));
        }
        fitting.FitCodes(codes.data(), train_labels.data(), folds.empty() ? nullptr : folds.data(),
                         train.size());
        return;
      }
      const ChainColumn values =
          from_codes ? RunFromCodes(c, *batch, train, all_train, op)
                     : RunRawChain(c, RawInputs(*batch, c, train), train_records, all_train, op);
      if (fitting.out_of_fold()) {
        std::vector<int32_t> folds;
        for (const int64_t record : train_records)
          folds.push_back(fitting.FoldOf(record));
        fitting.FitCategoricalInFolds(values.ids.data(), train_labels.data(), folds.data(),
                                      train.size());
      } else if (values.kind == ColumnKind::kDense) {
        fitting.FitDenseWithLabels(values.dense.data(), train_labels.data(), train.size());
      } else {
        fitting.FitCategoricalWithLabels(values.ids.data(), train_labels.data(), train.size());
      }
    });
  }
  FinishFitPhase(pipeline_, phase, threads);
  // A chain that shared a dictionary takes a copy of the fitted one: the state it saves for
  // serving, where each field transforms on its own. Its codes still map through the owner.
  for (size_t c = 0; c < chains_.size(); ++c) {
    const size_t owner = plans_[c].vocabulary_owner;
    if (owner != c && chains_[c]->FitOperatorOfPhase(phase) == size_t{0})
      chains_[c]->ops[0]->LoadState(chains_[owner]->ops[0]->SaveState());
  }
}

ChainColumn TableEncoder::RunRawChain(size_t c, std::vector<ChainColumn> inputs,
                                      const std::vector<int64_t>& records,
                                      const std::vector<char>& train, size_t end) const {
  const ColumnChain& chain = *chains_[c];
  const size_t n = records.size();
  if (end == 0 || !chain.ops[0]->out_of_fold())
    return chain.Run(std::move(inputs), n, end);
  const Operator& op = *chain.ops[0];
  const std::vector<int64_t>& keys = inputs[0].ids;
  ChainColumn encoded;
  encoded.kind = ColumnKind::kDense;
  encoded.dense.resize(n);
  op.TransformIdsToDense(keys.data(), n, encoded.dense.data());
  // The train rows again, from the other folds.
  std::vector<int64_t> train_keys;
  std::vector<int32_t> folds;
  std::vector<size_t> at;
  for (size_t i = 0; i < n; ++i) {
    if (!train[i])
      continue;
    train_keys.push_back(keys[i]);
    folds.push_back(op.FoldOf(records[i]));
    at.push_back(i);
  }
  std::vector<double> out_of_fold(train_keys.size());
  op.TransformTrainRows(train_keys.data(), folds.data(), train_keys.size(), out_of_fold.data());
  for (size_t j = 0; j < at.size(); ++j)
    encoded.dense[at[j]] = out_of_fold[j];
  return chain.RunFrom(std::move(encoded), n, 1, end);
}

ChainColumn TableEncoder::RunFromCodes(size_t c, const EncodedBatch& batch,
                                       const std::vector<int64_t>& rows,
                                       const std::vector<char>& train, size_t end) const {
  const ColumnChain& chain = *chains_[c];
  const Operator& op = *chain.ops[0];
  const auto stored = static_cast<size_t>(batch.rows());
  const int32_t* codes =
      batch.categorical.data() + binding_.chains[plans_[c].codes_chain].slot * stored;
  const size_t n = rows.empty() ? stored : rows.size();
  std::vector<int32_t> gathered;
  if (!rows.empty()) {
    gathered.resize(n);
    for (size_t i = 0; i < n; ++i)
      gathered[i] = codes[rows[i]];
    codes = gathered.data();
  }
  std::vector<int32_t> folds;
  if (op.out_of_fold()) {
    folds.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t record = batch.lines[rows.empty() ? i : static_cast<size_t>(rows[i])];
      folds[i] = train[i] ? op.FoldOf(record) : -1;
    }
  }
  ChainColumn encoded;
  encoded.kind = ColumnKind::kDense;
  encoded.dense.resize(n);
  op.TransformCodes(codes, folds.empty() ? nullptr : folds.data(), n, encoded.dense.data());
  return chain.RunFrom(std::move(encoded), n, 1, end);
}

FinishedBatch TableEncoder::Finish(EncodedBatch batch, const RecordSplits& splits,
                                   const LabelMapping& label) const {
  const auto rows = static_cast<size_t>(batch.rows());
  const FieldBinding& b = binding_;
  const size_t n_dense = b.dense_features;
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
  // The raw chains run whole now, into the batch's feature columns.
  std::vector<char> train(rows, 0);
  for (const int64_t r : splits.RowsOf(batch.lines, data::kTrainSplit))
    train[static_cast<size_t>(r)] = 1;
  for (size_t c = 0; c < chains_.size(); ++c) {
    const Handling handling = plans_[c].handling;
    if (handling != Handling::kRaw && handling != Handling::kFromCodes)
      continue;
    const ColumnChain& chain = *chains_[c];
    const BoundChain& bound = b.chains[c];
    const ChainColumn result =
        handling == Handling::kFromCodes
            ? RunFromCodes(c, batch, {}, train, chain.ops.size())
            : RunRawChain(c, RawInputs(batch, c, {}), batch.lines, train, chain.ops.size());
    if (bound.output == ColumnKind::kDense) {
      float* dense = batch.dense.data() + bound.slot * rows;
      for (size_t r = 0; r < rows; ++r)
        dense[r] = static_cast<float>(result.dense[r]);
    } else {
      int32_t* ids = batch.categorical.data() + bound.slot * rows;
      for (size_t r = 0; r < rows; ++r)
        ids[r] = static_cast<int32_t>(result.ids[r]);
    }
  }
  // Codes become ids a block of rows at a time, on their way from columns to rows: the
  // batch's codes are read once and the rows written once.
  std::vector<const ColumnChain*> coded(n_cat, nullptr);
  for (size_t c = 0; c < chains_.size(); ++c) {
    const BoundChain& bound = b.chains[c];
    if (plans_[c].handling == Handling::kCoded && !bound.list)
      coded[bound.slot] = chains_[plans_[c].vocabulary_owner];
  }
  int32_t ids[kBlockRows];
  ColumnsToRows(
      rows, n_cat,
      [&](size_t c, size_t begin, size_t count) -> const int32_t* {
        const int32_t* codes = batch.categorical.data() + c * rows + begin;
        if (coded[c] == nullptr)
          return codes;  // ids already
        coded[c]->ops[0]->MapCodes(codes, count, ids);
        return ids;
      },
      storage.categorical.data());
  for (size_t c = 0; c < chains_.size(); ++c) {
    const BoundChain& bound = b.chains[c];
    if (!bound.list)
      continue;
    const int64_t* offsets = batch.list_offsets.data() + bound.slot * (rows + 1);
    std::vector<int64_t>& out_offsets = storage.offsets[bound.slot];
    for (size_t r = 0; r <= rows; ++r)
      out_offsets[r] = offsets[r] - offsets[0];
    std::vector<int32_t>& values = storage.values[bound.slot];
    values.resize(static_cast<size_t>(offsets[rows] - offsets[0]));
    const int32_t* codes = batch.list_codes.data() + offsets[0];
    if (plans_[c].handling == Handling::kCoded) {
      CodingOperator(c).MapCodes(codes, values.size(), values.data());
    } else {
      std::copy(codes, codes + values.size(), values.begin());
    }
  }
  ColumnsToRows(
      rows, n_dense,
      [&](size_t d, size_t begin, size_t) { return batch.dense.data() + d * rows + begin; },
      storage.dense.data());
  out.lines = std::move(batch.lines);
  out.features.ViewStorage();
  return out;
}

void FinishFitPhase(Pipeline& pipeline, int phase, int threads) {
  const std::vector<ColumnChain*> chains = pipeline.chains();
  ParallelFor(static_cast<int64_t>(chains.size()), threads, [&](int64_t i) {
    if (auto op = chains[static_cast<size_t>(i)]->FitOperatorOfPhase(phase))
      chains[static_cast<size_t>(i)]->ops[*op]->FinishFit();
  });
}

}  // namespace aiok::etl
