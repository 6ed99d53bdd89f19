// The prepare stage at serving time, step by step in the ETL's order: join and
// groupby_aggregate as lookups by key (etl/prepare_lookup.h), sql expressions computed by
// DuckDB on the rows given (etl/prepare_sql.h), so that a lookup keyed by a computed field,
// or an expression over a looked-up one, sees what the ETL saw. Steps that choose or order
// rows do not run; histories and lags are fields the request carries.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "aiok/data/schema.h"
#include "aiok/data/table_batch.h"
#include "aiok/etl/pipeline.h"
#include "aiok/etl/prepare_lookup.h"
#include "aiok/etl/prepare_sql.h"

namespace aiok::etl {

class PrepareServingSteps {
 public:
  /// `steps`: the pipeline's prepare steps; `lookup_dir`: the directory of the lookups'
  /// files ("" when there are none); `schema`: the prepared table's (the dataset's input
  /// schema). Errors name `source` and the step: an expression that does not bind over the
  /// schema's fields, or that reads the label.
  PrepareServingSteps(const std::vector<OperatorSpec>& steps, const std::string& lookup_dir,
                      const data::TableSchema& schema, const std::string& source);
  ~PrepareServingSteps();

  /// Whether there is anything to apply.
  bool empty() const { return fields_.empty(); }
  /// The fields the steps write: a request does not carry them.
  const std::set<std::string>& fields() const { return fields_; }
  /// Fills those fields' columns of `batch` (a column per schema field, in schema order) in
  /// step order. Safe to call from several threads at once.
  void Apply(data::TableBatch* batch) const;
  /// What GET /v1/metadata says: "looked_up" and "computed" lists (absent when empty).
  nlohmann::json Describe() const;

 private:
  struct Computed {
    int step = 0;
    int field = -1;  // schema index of the output
    std::unique_ptr<SqlExpression> expression;
  };
  data::TableSchema schema_;
  std::unique_ptr<PrepareLookups> lookups_;
  std::vector<Computed> computed_;
  std::vector<int> order_;  // steps with something to apply, in order
  std::set<std::string> fields_;
};

}  // namespace aiok::etl
