#include "aiok/models/dlrm_inference.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/models/dlrm.h"
#include "aiok/models/dot_interaction.h"
#include "aiok/models/dot_product.h"
#include "aiok/models/mlp.h"
#include "aiok/models/mlp_inference.h"
#include "aiok/models/pooling.h"

namespace aiok::models {

struct DlrmInference::Impl {
  Impl(DlrmImpl& model, bool use_bf16)
      : bf16(use_bf16),
        architecture(model.architecture()),
        top(MlpLayers(model.top()), use_bf16, /*fp32_output=*/true),
        table(model.embedding()->weight.detach()),
        offsets(model.embedding()->offsets()) {
    AIOK_CHECK(table.is_contiguous() && table.scalar_type() == torch::kFloat32,
               ErrorKind::kInternal, "dlrm inference: the embedding table must be fp32");
    if (architecture.dense_features > 0)
      bottom = std::make_unique<MlpInference>(MlpLayers(model.bottom()), use_bf16, false);
    pairs = InteractionPairs(architecture.vectors(),
                             architecture.interaction == Interaction::kDotWithSelf);
  }

  bool bf16;
  DlrmArchitecture architecture;
  std::unique_ptr<MlpInference> bottom;  // null without dense features
  MlpInference top;
  torch::Tensor table;
  std::vector<int64_t> offsets;
  std::vector<std::pair<int32_t, int32_t>> pairs;  // the interaction's (i, j), in torch's order
};

DlrmInference::DlrmInference(DlrmImpl& model, bool bf16)
    : impl_(std::make_unique<Impl>(model, bf16)) {}

DlrmInference::~DlrmInference() = default;

void DlrmInference::Predict(const data::FeatureBatch& batch, float* out) const {
  impl_->architecture.CheckBatch(batch, "dlrm inference");
  for (int64_t begin = 0; begin < batch.rows; begin += kInferenceChunkRows) {
    const int64_t n = std::min(kInferenceChunkRows, batch.rows - begin);
    PredictChunk(batch, begin, n, out + begin);
  }
}

void DlrmInference::PredictChunk(const data::FeatureBatch& batch, int64_t begin, int64_t rows,
                                 float* out) const {
  const Impl& m = *impl_;
  const DlrmArchitecture& a = m.architecture;
  // oneDNN primitives are compiled for one shape: the MLPs see the chunk padded to one of a few
  // row counts (the padding rows are zeros and their outputs are dropped).
  const int64_t padded = PaddedInferenceRows(rows);
  const int64_t n_dense = a.dense_features;
  const int64_t d = a.embedding_dim;
  const auto singles = static_cast<int64_t>(a.table_sizes.size());
  const auto lists = static_cast<int64_t>(a.list_sizes.size());
  const size_t act_bytes = m.bf16 ? 2 : 4;

  // Bottom MLP on the dense features.
  std::vector<char> bottom_out;
  if (m.bottom) {
    std::vector<char> input(static_cast<size_t>(padded * n_dense) * act_bytes, 0);
    const float* dense = batch.dense + begin * n_dense;
    if (m.bf16) {
      auto* x = reinterpret_cast<uint16_t*>(input.data());
      for (int64_t i = 0; i < rows * n_dense; ++i)
        x[i] = ToBf16(dense[i]);
    } else {
      std::memcpy(input.data(), dense, static_cast<size_t>(rows * n_dense) * sizeof(float));
    }
    bottom_out.resize(static_cast<size_t>(padded * d) * act_bytes);
    m.bottom->Run(padded, input.data(), bottom_out.data());
  }

  // The interaction, row by row, in fp32: [first vector, pairwise dots] (or the
  // concatenation), where the first vector is the bottom output, or without dense features
  // the first embedding.
  const int64_t width = a.InteractionWidth();
  const int64_t vectors = a.vectors();
  const int64_t first_field = m.bottom ? 1 : 0;  // index of field 0 among the vectors
  std::vector<char> top_in(static_cast<size_t>(padded * width) * act_bytes, 0);
  const float* table = m.table.data_ptr<float>();
  const int32_t* ids = batch.categorical + begin * singles;
  // Rows in parallel (the two halves of a chunk on two cores); each row's embedding rows are
  // prefetched a few rows ahead: they are random reads from tables far larger than the cache,
  // and waiting for them one by one took most of the interaction's time.
  constexpr int64_t kPrefetchRows = 4;
  at::parallel_for(0, rows, 64, [&](int64_t row_begin, int64_t row_end) {
    std::vector<const float*> v(static_cast<size_t>(vectors));
    std::vector<float> bottom_row(static_cast<size_t>(d));
    std::vector<float> pooled(static_cast<size_t>(lists * d));
    std::vector<float> row_out(static_cast<size_t>(width));
    for (int64_t r = row_begin; r < row_end; ++r) {
      if (r + kPrefetchRows < row_end) {
        const int32_t* ahead = ids + (r + kPrefetchRows) * singles;
        for (int64_t t = 0; t < singles; ++t)
          __builtin_prefetch(table + (m.offsets[t] + ahead[t]) * d);
      }
      if (m.bottom) {
        for (int64_t j = 0; j < d; ++j) {
          bottom_row[j] =
              m.bf16 ? FromBf16(reinterpret_cast<const uint16_t*>(bottom_out.data())[r * d + j])
                     : reinterpret_cast<const float*>(bottom_out.data())[r * d + j];
        }
        v[0] = bottom_row.data();
      }
      for (int64_t t = 0; t < singles; ++t)
        v[first_field + t] = table + (m.offsets[t] + ids[r * singles + t]) * d;
      for (int64_t j = 0; j < lists; ++j) {
        const int64_t t = singles + j;
        float* sum = pooled.data() + j * d;
        PoolListRow({table, m.offsets[t], a.list_sizes[j], d}, batch.jagged[static_cast<size_t>(j)],
                    begin + r, a.list_pooling[j], sum, "dlrm inference", j);
        v[first_field + t] = sum;
      }
      std::copy(v[0], v[0] + d, row_out.begin());
      if (a.interaction == Interaction::kCat) {
        for (int64_t i = 1; i < vectors; ++i)
          std::copy(v[i], v[i] + d, row_out.begin() + i * d);
      } else {
        float* pair_out = row_out.data() + d;
        for (const auto& [i, j] : m.pairs)
          *pair_out++ = Dot(v[i], v[j], d);
      }
      if (m.bf16) {
        auto* dst = reinterpret_cast<uint16_t*>(top_in.data()) + r * width;
        for (int64_t k = 0; k < width; ++k)
          dst[k] = ToBf16(row_out[k]);
      } else {
        std::copy(row_out.begin(), row_out.end(),
                  reinterpret_cast<float*>(top_in.data()) + r * width);
      }
    }
  });

  // Top MLP to one output per row; a binary task's logit becomes a probability.
  std::vector<float> logits(static_cast<size_t>(padded));
  m.top.Run(padded, top_in.data(), logits.data());
  if (a.task == data::Task::kBinary) {
    for (int64_t r = 0; r < rows; ++r)
      out[r] = 1.0f / (1.0f + std::exp(-logits[r]));
  } else {
    std::copy(logits.begin(), logits.begin() + rows, out);
  }
}

}  // namespace aiok::models
