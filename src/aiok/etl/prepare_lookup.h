// The prepare stage at serving time. `aiok predict` and `aiok serve` score the rows they are
// given, so steps that choose or order rows (filter, dedupe, sample, sort, negative_sample)
// do not run, and histories and lags (collapse_history, difference_lag) are ordinary input
// fields the request carries. join and groupby_aggregate run as lookups by key: the side
// table's columns, or the statistics fitted on the train rows, saved by the ETL as Parquet
// files (etl_state/prepare/ of a dataset, prepare/ of a bundle) and read here with the
// prepared table's field types, so a looked-up value is the value the model was trained on.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/prepare_step.h"

namespace aiok::etl {

class PrepareLookups {
 public:
  /// Reads `dir`/lookups.json and its files; `schema` is the prepared table's (the dataset's
  /// input schema). Errors (kInvalidInput) name the file.
  PrepareLookups(const std::string& dir, const data::TableSchema& schema, int threads);

  /// The fields the lookups write: a request does not carry them.
  const std::set<std::string>& fields() const { return fields_; }
  /// Fills the lookup fields' columns of `batch` (a column per schema field, in schema order)
  /// from its key columns, lookup by lookup in step order. A row with a missing key, or a key
  /// the table lacks, gets missing values (counts 0), as the ETL's left join gave it.
  void Apply(data::TableBatch* batch) const;
  /// Apply() for the lookups of prepare step `step` (1-based) alone.
  void ApplyStep(int step, data::TableBatch* batch) const;
  /// What GET /v1/metadata says about them.
  std::vector<PrepareLookup> lookups() const;

 private:
  struct Table {
    PrepareLookup lookup;
    std::vector<int> key_fields;    // schema indices
    std::vector<int> value_fields;  // schema indices
    std::vector<bool> zero_if_absent;
    data::TableBatch rows;                           // key columns, then value columns
    std::unordered_map<std::string, int64_t> index;  // key bytes -> row
  };
  data::TableSchema schema_;
  std::vector<Table> tables_;
  std::set<std::string> fields_;
};

}  // namespace aiok::etl
