// The per-batch work of the ETL, for any schema.
//
// Pass 1 (Encode, on the reader threads, batches side by side): turn each parsed batch into
// labels as read, weights, dense values (final float32; or raw float64 when a dense chain
// needs fitting), categorical and list ids (or, for operators that fit a dictionary, codes to
// be mapped to ids once the fit is done, counting each row as a training row), column by
// column, and the hour and weekday of timestamps. The batches wait in a BatchStore. Once the
// read has told where the train split ends, Uncount takes the other rows back out of the
// counts and FitDensePhase fits the dense chains from the stored raw values. Finish then maps
// labels and codes, turns raw dense values into final ones and lays the rows out as the
// shards hold them, so each shard is written once.
//
// The features are laid out by the FieldBinding that the serving transform (TableTransformer)
// uses too; a test holds the two to the same output.
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

  /// Once the pipeline is fitted and the label mapping decided: labels mapped, codes made
  /// ids, raw dense values final, and the columns laid out as rows. Safe to call for several
  /// batches at once. A label that does not fit the task throws Error(kInvalidInput) naming
  /// the record.
  FinishedBatch Finish(EncodedBatch batch, const LabelMapping& label) const;

  /// The layout Finish makes.
  data::FeatureLayout Layout(data::Task task) const { return binding_.Layout(schema_, pipeline_, task); }

 private:
  // A categorical chain's column: a scalar feature or a list, and what pass 1 leaves.
  struct CategoricalColumn {
    int field = -1;       // schema index
    size_t chain = 0;     // in pipeline.categorical()
    bool list = false;
    size_t slot = 0;      // feature index (scalar) or list index
    bool coded = false;   // pass 1 leaves codes for Finish to map
  };

  const data::TableSchema& schema_;
  Pipeline& pipeline_;
  std::string source_;
  FieldBinding binding_;
  bool raw_dense_ = false;  // dense values leave pass 1 raw (some dense chain needs fitting)
  bool text_label_ = false;
  std::vector<CategoricalColumn> categorical_;
  std::vector<std::mutex> column_locks_;  // per categorical chain
};

/// Fits fit phase `phase` of the dense chains from the raw dense values of the stored
/// batches' train rows, columns in parallel, then finishes that phase.
void FitDensePhase(Pipeline& pipeline, int phase, const BatchStore& store,
                   const RecordSplits& splits, int threads);

/// Finishes fit phase `phase` of every chain (vocabularies sorted), columns in parallel.
void FinishFitPhase(Pipeline& pipeline, int phase, int threads);

}  // namespace aiok::etl
