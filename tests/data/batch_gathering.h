// Test helper: several reader batches gathered into one, in order.
#pragma once

#include "aiok/data/criteo_reader.h"

namespace aiok::data {

inline void AppendBatch(const CriteoBatch& from, CriteoBatch* to) {
  to->rows += from.rows;
  to->label.insert(to->label.end(), from.label.begin(), from.label.end());
  for (int d = 0; d < kCriteoDense; ++d) {
    to->dense[d].insert(to->dense[d].end(), from.dense[d].begin(), from.dense[d].end());
  }
  for (int c = 0; c < kCriteoCategorical; ++c) {
    to->category[c].insert(to->category[c].end(), from.category[c].begin(), from.category[c].end());
  }
  to->rejects.insert(to->rejects.end(), from.rejects.begin(), from.rejects.end());
}

}  // namespace aiok::data
