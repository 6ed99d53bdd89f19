// The label's task and mapping, decided from the values the ETL's read saw: a label with two
// distinct values (numbers or text) is binary and maps to 0/1 (which value is 1: --positive,
// else a word like "yes" or "click", else the larger number or later text); a numeric label
// with more values is a regression target.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "aiok/data/table_batch.h"
#include "aiok/etl/field_binding.h"
#include "aiok/etl/table_transformer.h"

namespace aiok::etl {

/// The distinct values of the label, as text, up to three of them (enough to tell binary).
struct LabelValues {
  std::set<std::string> distinct;
  bool numeric = true;
  std::vector<uint64_t> seen_bits;  ///< the distinct values' bits (text: their hash)

  void See(const data::ColumnValues& column, int64_t rows);
};

/// The task and label mapping from what the label held. `task`: auto, binary or regression;
/// `positive`: the value that is 1, or empty. Errors name the field `label`.
LabelMapping DecideLabel(const LabelValues& seen, const std::string& task,
                         const std::string& positive, const std::string& label);

}  // namespace aiok::etl
