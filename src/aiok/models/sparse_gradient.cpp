#include "aiok/models/sparse_gradient.h"

#include <algorithm>

#include "aiok/core/error.h"

namespace aiok::models {

void SparseGradient::Clear() {
  ids.clear();
  rows.clear();
}

void SparseGradient::Add(const SparseGradient& other) {
  if (other.empty())
    return;
  if (empty()) {
    *this = other;
    return;
  }
  AIOK_ASSERT(dim == other.dim);
  // A merge of two ascending id lists.
  std::vector<int64_t> merged_ids;
  UninitializedVector<float> merged_rows;
  merged_ids.reserve(ids.size() + other.ids.size());
  merged_rows.reserve((ids.size() + other.ids.size()) * static_cast<size_t>(dim));
  size_t a = 0;
  size_t b = 0;
  auto append = [&](const float* row) { merged_rows.insert(merged_rows.end(), row, row + dim); };
  while (a < ids.size() || b < other.ids.size()) {
    const bool take_a = b == other.ids.size() || (a < ids.size() && ids[a] <= other.ids[b]);
    const bool take_b = a == ids.size() || (b < other.ids.size() && other.ids[b] <= ids[a]);
    if (take_a && take_b) {
      merged_ids.push_back(ids[a]);
      append(rows.data() + a * dim);
      float* sum = merged_rows.data() + merged_rows.size() - dim;
      const float* add = other.rows.data() + b * dim;
      for (int64_t j = 0; j < dim; ++j)
        sum[j] += add[j];
      ++a;
      ++b;
    } else if (take_a) {
      merged_ids.push_back(ids[a]);
      append(rows.data() + a * dim);
      ++a;
    } else {
      merged_ids.push_back(other.ids[b]);
      append(other.rows.data() + b * dim);
      ++b;
    }
  }
  ids = std::move(merged_ids);
  rows = std::move(merged_rows);
}

}  // namespace aiok::models
