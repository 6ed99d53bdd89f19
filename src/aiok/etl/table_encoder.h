// The per-batch work of the ETL, for any schema and any pipeline.
//
// Pass 1 (Encode, on the reader threads, batches side by side) handles each chain in one of
// four ways:
//   coded — a lone dictionary operator (categorify) on a column: it counts the values while
//           giving each a code, and Finish maps codes to ids once the fit is done;
//   ready — no operator needs fitting: the chain runs now and its output is final;
//   from codes — a chain whose first operator learns per value (count, frequency, target
//           encoding; Operator::fits_codes) on a field that a coded chain codes: nothing is
//           kept for it, it fits and transforms by the coded chain's codes;
//   raw   — anything else: the chain's raw inputs are kept (doubles or keys), fitted phase by
//           phase (FitPhase: each fitted operator sees its prefix's output on the train rows
//           and their labels), and run whole in Finish.
// Labels are kept as read, timestamps become hour and weekday ids. The batches wait in a
// BatchStore. Once the read has told where the splits fall, Uncount takes the non-train rows
// back out of the coded counts. Finish maps labels and codes, runs the raw chains and lays
// the rows out as the shards hold them, so each shard is written once.
//
// The features are laid out by the FieldBinding that the serving transform (TableTransformer)
// uses too; tests hold the two to the same output.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "aiok/data/feature_batch.h"
#include "aiok/data/schema.h"
#include "aiok/data/splits.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/batch_store.h"
#include "aiok/etl/field_binding.h"
#include "aiok/etl/pipeline.h"
#include "aiok/etl/table_transformer.h"

namespace aiok::etl {

/// Which split each source record goes to: a split rule over the input's records.
struct RecordSplits {
  data::SplitRule rule;
  data::SplitRanges ranges;

  data::SplitIndex Of(int64_t record) const { return rule.Of(record, ranges); }
  /// The rows of a batch (by their source records, ascending) that go to `split`.
  std::vector<int64_t> RowsOf(const std::vector<int64_t>& records, data::SplitIndex split) const;
};

/// A batch in its final form, as the shards hold it.
struct FinishedBatch {
  std::vector<int64_t> lines;   ///< 0-based source record of each row
  data::FeatureBatch features;  ///< owns its buffers
};

class TableEncoder {
 public:
  /// Binds to a pipeline whose fit-free operators are already finished. `source` names the
  /// input in errors.
  TableEncoder(const data::TableSchema& schema, Pipeline& pipeline, std::string source);

  /// Encodes the batch's rows, fitting the categorical dictionaries on all of them. Safe to
  /// call for several batches at once (each column is fitted under its own lock). A negative
  /// or non-finite weight throws Error(kInvalidInput) naming the record.
  EncodedBatch Encode(const data::TableBatch& batch);

  /// Takes the stored rows that are not train rows back out of the categorical counts that
  /// Encode made, columns in parallel on `threads`.
  void Uncount(const BatchStore& store, const RecordSplits& splits, int threads);

  /// Fits fit phase `phase` of the raw chains from the stored batches' train rows and their
  /// labels (mapped by `label`), chains in parallel, then finishes that phase of every chain.
  void FitPhase(int phase, const BatchStore& store, const RecordSplits& splits,
                const LabelMapping& label, int threads);

  /// Once the pipeline is fitted and the label mapping decided: labels mapped, codes made
  /// ids, raw dense values final, and the columns laid out as rows. Safe to call for several
  /// batches at once. A label that does not fit the task throws Error(kInvalidInput) naming
  /// the record.
  FinishedBatch Finish(EncodedBatch batch, const RecordSplits& splits,
                       const LabelMapping& label) const;

  /// The layout Finish makes.
  data::FeatureLayout Layout(data::Task task) const {
    return binding_.Layout(schema_, pipeline_, task);
  }

 private:
  enum class Handling { kCoded, kReady, kFromCodes, kRaw };
  // How pass 1 handles a chain, and where its raw inputs go (one raw column per input).
  struct ChainPlan {
    Handling handling = Handling::kReady;
    std::vector<size_t> raw_columns;  // in raw_dense (dense chains) or raw_keys
    // The coded chain whose dictionary this one encodes with: itself, or the field its
    // categorify names as `vocabulary` (which then counts and codes both fields' values).
    size_t vocabulary_owner = 0;
    // kFromCodes: the coded chain of the same field, whose stored codes this one reads.
    size_t codes_chain = 0;
  };

  // Points coded chains that share a vocabulary at their owner; errors (kConfig) name them.
  void BindSharedVocabularies();
  // Turns raw chains that can learn by a coded chain's codes into kFromCodes ones.
  void BindCodeReaders();
  // The dictionary operator a coded chain encodes and maps codes with.
  Operator& CodingOperator(size_t chain) const {
    return *chains_[plans_[chain].vocabulary_owner]->ops[0];
  }

  // Takes the `others` rows of `batches` out of coded chain c's dictionary counts.
  void UncountChain(size_t c, const std::vector<std::shared_ptr<const EncodedBatch>>& batches,
                    const std::vector<std::vector<int64_t>>& others);
  // Raw chain c's operators [0, end) over `inputs`, rows of source records `records`. An
  // out-of-fold first operator (target encoding) encodes the rows with `train[i]` set from the
  // other folds' statistics.
  ChainColumn RunRawChain(size_t c, std::vector<ChainColumn> inputs,
                          const std::vector<int64_t>& records, const std::vector<char>& train,
                          size_t end) const;
  // The inputs of a raw chain for `rows` of a stored batch (all rows when empty).
  std::vector<ChainColumn> RawInputs(const EncodedBatch& batch, size_t chain,
                                     const std::vector<int64_t>& rows) const;
  // kFromCodes chain c's operators [0, end), end >= 1, over `rows` of a stored batch (all
  // rows when empty), from its coded chain's codes; rows with `train[i]` set are encoded out
  // of fold when the first operator encodes so.
  ChainColumn RunFromCodes(size_t c, const EncodedBatch& batch, const std::vector<int64_t>& rows,
                           const std::vector<char>& train, size_t end) const;

  const data::TableSchema& schema_;
  Pipeline& pipeline_;
  std::vector<ColumnChain*> chains_;
  std::string source_;
  FieldBinding binding_;
  bool text_label_ = false;
  std::vector<ChainPlan> plans_;
  size_t raw_dense_columns_ = 0;
  size_t raw_key_columns_ = 0;
  std::vector<std::mutex> chain_locks_;  // per chain (coded ones fit under them)
};

/// Finishes fit phase `phase` of every chain (vocabularies sorted), chains in parallel.
void FinishFitPhase(Pipeline& pipeline, int phase, int threads);

}  // namespace aiok::etl
