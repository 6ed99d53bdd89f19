#include "aiok/models/wide_deep_inference.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/models/mlp.h"
#include "aiok/models/mlp_inference.h"
#include "aiok/models/pooling.h"
#include "aiok/models/wide_deep.h"

namespace aiok::models {

struct WideDeepInference::Impl {
  Impl(WideDeepImpl& model, bool use_bf16)
      : bf16(use_bf16),
        architecture(model.architecture()),
        deep(MlpLayers(model.deep()), use_bf16, /*fp32_output=*/true),
        deep_table(model.deep_embedding()->weight.detach()),
        deep_offsets(model.deep_embedding()->offsets()),
        wide_table(model.wide()->weight.detach()),
        wide_offsets(model.wide()->offsets()),
        bias(model.bias().detach().item<float>()) {
    for (const torch::Tensor* table : {&deep_table, &wide_table}) {
      AIOK_CHECK(table->is_contiguous() && table->scalar_type() == torch::kFloat32,
                 ErrorKind::kInternal, "wnd inference: the tables must be contiguous fp32");
    }
  }

  bool bf16;
  WideDeepArchitecture architecture;
  MlpInference deep;
  torch::Tensor deep_table;
  std::vector<int64_t> deep_offsets;
  torch::Tensor wide_table;
  std::vector<int64_t> wide_offsets;
  float bias;
};

WideDeepInference::WideDeepInference(WideDeepImpl& model, bool bf16)
    : impl_(std::make_unique<Impl>(model, bf16)) {}

WideDeepInference::~WideDeepInference() = default;

void WideDeepInference::Predict(const data::FeatureBatch& batch, float* out) const {
  impl_->architecture.CheckBatch(batch, "wnd inference");
  for (int64_t begin = 0; begin < batch.rows; begin += kInferenceChunkRows) {
    const int64_t n = std::min(kInferenceChunkRows, batch.rows - begin);
    PredictChunk(batch, begin, n, out + begin);
  }
}

void WideDeepInference::PredictChunk(const data::FeatureBatch& batch, int64_t begin,
                                     int64_t rows, float* out) const {
  const Impl& m = *impl_;
  const WideDeepArchitecture& a = m.architecture;
  // oneDNN primitives are compiled per shape: the MLP sees the chunk padded to one of a few row
  // counts (zero rows whose outputs are dropped).
  const int64_t padded = PaddedInferenceRows(rows);
  const int64_t n_dense = a.dense_features;
  const int64_t d = a.embedding_dim;
  const auto singles = static_cast<int64_t>(a.table_sizes.size());
  const auto lists = static_cast<int64_t>(a.list_sizes.size());
  const auto crosses = static_cast<int64_t>(a.crosses.size());
  const int64_t width = a.DeepWidth();
  const size_t act_bytes = m.bf16 ? 2 : 4;
  std::vector<char> deep_in(static_cast<size_t>(padded * width) * act_bytes, 0);
  std::vector<float> wide(static_cast<size_t>(rows));
  const float* deep_table = m.deep_table.data_ptr<float>();
  const float* wide_table = m.wide_table.data_ptr<float>();

  at::parallel_for(0, rows, 64, [&](int64_t row_begin, int64_t row_end) {
    std::vector<float> row_in(static_cast<size_t>(width));
    std::vector<float> wide_pooled(1);
    for (int64_t r = row_begin; r < row_end; ++r) {
      const int64_t row = begin + r;
      const int32_t* ids = batch.categorical + row * singles;
      // Deep input: the dense fields, then each field's embedding (lists pooled).
      float* x = row_in.data();
      if (n_dense > 0)
        std::copy(batch.dense + row * n_dense, batch.dense + (row + 1) * n_dense, x);
      x += n_dense;
      for (int64_t t = 0; t < singles; ++t, x += d) {
        const float* src = deep_table + (m.deep_offsets[t] + ids[t]) * d;
        std::copy(src, src + d, x);
      }
      for (int64_t j = 0; j < lists; ++j, x += d) {
        PoolListRow({deep_table, m.deep_offsets[singles + j], a.list_sizes[j], d},
                    batch.jagged[static_cast<size_t>(j)], row, a.list_pooling[j], x,
                    "wnd inference", j);
      }
      if (m.bf16) {
        auto* dst = reinterpret_cast<uint16_t*>(deep_in.data()) + r * width;
        for (int64_t k = 0; k < width; ++k)
          dst[k] = ToBf16(row_in[k]);
      } else {
        std::copy(row_in.begin(), row_in.end(),
                  reinterpret_cast<float*>(deep_in.data()) + r * width);
      }
      // Wide: the weights of the row's values, crosses and list values, summed.
      float sum = m.bias;
      for (int64_t t = 0; t < singles; ++t)
        sum += wide_table[m.wide_offsets[t] + ids[t]];
      for (int64_t c = 0; c < crosses; ++c) {
        sum += wide_table[m.wide_offsets[singles + c] +
                          CrossBucket(ids, a.crosses[static_cast<size_t>(c)], a.cross_buckets)];
      }
      for (int64_t j = 0; j < lists; ++j) {
        const int64_t t = singles + crosses + j;
        PoolListRow({wide_table, m.wide_offsets[t], a.list_sizes[j], 1},
                    batch.jagged[static_cast<size_t>(j)], row, Pooling::kSum, wide_pooled.data(),
                    "wnd inference", j);
        sum += wide_pooled[0];
      }
      wide[r] = sum;
    }
  });

  std::vector<float> logits(static_cast<size_t>(padded));
  m.deep.Run(padded, deep_in.data(), logits.data());
  for (int64_t r = 0; r < rows; ++r) {
    const float logit = logits[r] + wide[r];
    out[r] = a.task == data::Task::kBinary ? 1.0f / (1.0f + std::exp(-logit)) : logit;
  }
}

}  // namespace aiok::models
