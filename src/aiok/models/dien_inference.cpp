#include "aiok/models/dien_inference.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "aiok/core/error.h"
#include "aiok/models/dien.h"
#include "aiok/models/fast_linear.h"
#include "aiok/models/gru.h"
#include "aiok/models/mlp_inference.h"
#include "aiok/models/pooling.h"

namespace aiok::models {
namespace {

std::vector<float> Copy(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

// y = x W^T + b, then an activation.
struct Layer {
  enum class Activation { kNone, kSigmoid, kPrelu, kDice };
  int64_t in = 0;
  int64_t out = 0;
  std::vector<float> weight;  // [out x in]
  std::vector<float> bias;    // [out]
  Activation activation = Activation::kNone;
  std::vector<float> alpha;    // PReLU, Dice
  std::vector<float> mean;     // Dice: running mean
  std::vector<float> inv_std;  // Dice: 1 / sqrt(running var + eps)

  explicit Layer(const FastLinearImpl& linear)
      : in(linear.weight.size(1)),
        out(linear.weight.size(0)),
        weight(Copy(linear.weight)),
        bias(Copy(linear.bias)) {}

  void SetActivation(const DienActivationImpl& a) {
    alpha = Copy(a.alpha);
    activation = a.dice() ? Activation::kDice : Activation::kPrelu;
    if (a.dice()) {
      mean = Copy(a.running_mean);
      for (float v : Copy(a.running_var))
        inv_std.push_back(1.0f / std::sqrt(v + 1e-8f));
    }
  }

  // x [rows x in] -> y [rows x out].
  void Run(int64_t rows, const float* x, float* y) const {
    if (rows == 0)
      return;
    for (int64_t r = 0; r < rows; ++r)
      std::copy(bias.begin(), bias.end(), y + r * out);
    Sgemm(false, true, rows, out, in, 1.0f, x, in, weight.data(), in, 1.0f, y, out);
    if (activation == Activation::kNone)
      return;
    for (int64_t r = 0; r < rows; ++r) {
      float* v = y + r * out;
      for (int64_t j = 0; j < out; ++j) {
        if (activation == Activation::kSigmoid) {
          v[j] = 1.0f / (1.0f + std::exp(-v[j]));
        } else if (activation == Activation::kPrelu) {
          v[j] = v[j] > 0.0f ? v[j] : alpha[j] * v[j];
        } else {
          const float p = 1.0f / (1.0f + std::exp(-(v[j] - mean[j]) * inv_std[j]));
          v[j] = p * v[j] + (1.0f - p) * alpha[j] * v[j];
        }
      }
    }
  }
};

// Linear layers of a Sequential with their activations (Sigmoid, DienActivation) folded in.
std::vector<Layer> Layers(const torch::nn::Sequential& sequential) {
  std::vector<Layer> layers;
  for (const auto& child : sequential->children()) {
    if (const auto* linear = child->as<FastLinearImpl>()) {
      layers.emplace_back(*linear);
    } else if (child->as<torch::nn::SigmoidImpl>() != nullptr) {
      AIOK_ASSERT(!layers.empty());
      layers.back().activation = Layer::Activation::kSigmoid;
    } else if (const auto* activation = child->as<DienActivationImpl>()) {
      AIOK_ASSERT(!layers.empty());
      layers.back().SetActivation(*activation);
    } else {
      Throw(ErrorKind::kInternal, "dien inference: unexpected module {}", child->name());
    }
  }
  return layers;
}

struct Gru {
  Layer input;
  std::vector<float> w_hh;
  std::vector<float> b_hh;
  int64_t hidden;

  explicit Gru(PackedGruImpl& gru)
      : input(*gru.input_projection),
        w_hh(Copy(gru.w_hh)),
        b_hh(Copy(gru.b_hh)),
        hidden(gru.hidden_size()) {}

  // inputs [positions x in] -> states [positions x hidden].
  std::vector<float> Run(const std::vector<float>& inputs, const PackedSequences& packed,
                         const float* attention) const {
    const int64_t positions = packed.positions();
    std::vector<float> x(static_cast<size_t>(positions * 3 * hidden));
    input.Run(positions, inputs.data(), x.data());
    std::vector<float> h(static_cast<size_t>(positions * hidden));
    GruRecurrenceForward(x.data(), w_hh.data(), b_hh.data(), attention, packed, hidden, h.data(),
                         nullptr, nullptr);
    return h;
  }
};

}  // namespace

struct DienInference::Impl {
  explicit Impl(DienImpl& model)
      : architecture(model.architecture()),
        table(model.embedding()->weight.detach()),
        offsets(model.embedding()->offsets()),
        table_sizes(architecture.EmbeddingTables()),
        column_tables(architecture.ColumnTables()),
        others(architecture.OtherColumns()),
        unpaired(architecture.UnpairedLists()),
        extractor(*model.extractor()),
        evolution(*model.evolution()),
        query(*model.query()),
        attention(Layers(model.attention())),
        mlp(Layers(model.mlp())) {
    query.SetActivation(*model.query_activation());
    if (model.lists()) {
      lists_table = model.lists()->weight.detach();
      lists_offsets = model.lists()->offsets();
    }
    for (const torch::Tensor* t : {&table, &lists_table}) {
      AIOK_CHECK(!t->defined() || (t->is_contiguous() && t->scalar_type() == torch::kFloat32),
                 ErrorKind::kInternal, "dien inference: the tables must be contiguous fp32");
    }
  }

  DienArchitecture architecture;
  torch::Tensor table;  // shared with the model
  std::vector<int64_t> offsets;
  std::vector<int64_t> table_sizes;
  std::vector<int64_t> column_tables;
  std::vector<int32_t> others;
  std::vector<int32_t> unpaired;
  torch::Tensor lists_table;  // shared; undefined without unpaired lists
  std::vector<int64_t> lists_offsets;
  Gru extractor;
  Gru evolution;
  Layer query;
  std::vector<Layer> attention;
  std::vector<Layer> mlp;
};

DienInference::DienInference(DienImpl& model, bool /*bf16*/)
    : impl_(std::make_unique<Impl>(model)) {}

DienInference::~DienInference() = default;

void DienInference::Predict(const data::FeatureBatch& batch, float* out) const {
  impl_->architecture.CheckBatch(batch, "dien inference");
  for (int64_t begin = 0; begin < batch.rows; begin += kInferenceChunkRows) {
    const int64_t n = std::min(kInferenceChunkRows, batch.rows - begin);
    PredictChunk(batch, begin, n, out + begin);
  }
}

void DienInference::PredictChunk(const data::FeatureBatch& batch, int64_t begin, int64_t rows,
                                 float* out) const {
  const Impl& m = *impl_;
  const DienArchitecture& a = m.architecture;
  const int64_t d = a.embedding_dim;
  const int64_t e = a.behaviour_width();
  const int64_t h = a.hidden;
  const auto pairs = static_cast<int64_t>(a.pairs.size());
  const auto columns = static_cast<int64_t>(a.table_sizes.size());
  const float* table = m.table.data_ptr<float>();
  auto row_of = [&](int64_t t, int64_t id, const char* kind, int64_t field) {
    AIOK_CHECK(id >= 0 && id < m.table_sizes[t], ErrorKind::kInvalidInput,
               "dien inference: id {} of {} field {} is outside its table of {} rows", id, kind,
               field, m.table_sizes[t]);
    return table + (m.offsets[t] + id) * d;
  };

  // The rows' history lengths (the most recent max_history events), longest first.
  std::vector<int64_t> full(static_cast<size_t>(rows));
  std::vector<int64_t> length(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    full[r] = batch.jagged[a.pairs[0].history].length(begin + r);
    for (int64_t k = 1; k < pairs; ++k) {
      const int64_t other = batch.jagged[a.pairs[k].history].length(begin + r);
      AIOK_CHECK(other == full[r], ErrorKind::kInvalidInput,
                 "dien: row {} has {} events in '{}' but {} in '{}': the histories of a row "
                 "describe the same events and must have equal lengths",
                 begin + r, full[r], a.pairs[0].history_name, other, a.pairs[k].history_name);
    }
    length[r] = std::min(full[r], a.max_history);
  }
  std::vector<int64_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return length[x] > length[y]; });
  std::vector<int64_t> sorted(static_cast<size_t>(rows));
  std::vector<int64_t> rank(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    sorted[i] = length[order[i]];
    rank[order[i]] = i;
  }
  const PackedSequences packed = PackedSequences::FromSortedLengths(sorted);
  const int64_t positions = packed.positions();

  // Behaviours in packed order, and each row's target and history mean.
  std::vector<int64_t> event_row(static_cast<size_t>(positions));
  std::vector<float> behaviours(static_cast<size_t>(positions * e));
  for (int64_t t = 0; t < packed.steps(); ++t) {
    for (int64_t i = 0; i < packed.batch_sizes[t]; ++i) {
      const int64_t p = packed.step_offsets[t] + i;
      const int64_t r = order[i];
      event_row[p] = r;
      for (int64_t k = 0; k < pairs; ++k) {
        const data::JaggedIds& list = batch.jagged[a.pairs[k].history];
        const int32_t id = list.values[list.offsets[begin + r] + full[r] - length[r] + t];
        const float* src = row_of(k, id, "sequence", k);
        std::copy(src, src + d, behaviours.data() + p * e + k * d);
      }
    }
  }
  std::vector<float> target(static_cast<size_t>(rows * e));
  std::vector<float> mean(static_cast<size_t>(rows * e), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* ids = batch.categorical + (begin + r) * columns;
    for (int64_t k = 0; k < pairs; ++k) {
      const float* src = row_of(k, ids[a.pairs[k].target], "categorical", a.pairs[k].target);
      std::copy(src, src + d, target.data() + r * e + k * d);
    }
  }
  for (int64_t p = 0; p < positions; ++p) {
    float* dst = mean.data() + event_row[p] * e;
    const float* src = behaviours.data() + p * e;
    for (int64_t j = 0; j < e; ++j)
      dst[j] += src[j];
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (length[r] > 0) {
      const float scale = 1.0f / static_cast<float>(length[r]);
      for (int64_t j = 0; j < e; ++j)
        mean[r * e + j] *= scale;
    }
  }

  // Interest extractor; attention of the target on each state; interest evolution.
  const std::vector<float> states = m.extractor.Run(behaviours, packed, nullptr);
  std::vector<float> query(static_cast<size_t>(rows * h));
  m.query.Run(rows, target.data(), query.data());
  std::vector<float> scores;
  {
    std::vector<float> x(static_cast<size_t>(positions * 4 * h));
    for (int64_t p = 0; p < positions; ++p) {
      const float* q = query.data() + event_row[p] * h;
      const float* s = states.data() + p * h;
      float* dst = x.data() + p * 4 * h;
      for (int64_t j = 0; j < h; ++j) {
        dst[j] = q[j];
        dst[h + j] = s[j];
        dst[2 * h + j] = q[j] - s[j];
        dst[3 * h + j] = q[j] * s[j];
      }
    }
    for (const Layer& layer : m.attention) {
      std::vector<float> y(static_cast<size_t>(positions * layer.out));
      layer.Run(positions, x.data(), y.data());
      x.swap(y);
    }
    scores.swap(x);  // [positions x 1]
  }
  std::vector<float> row_max(static_cast<size_t>(rows), -std::numeric_limits<float>::infinity());
  std::vector<float> row_sum(static_cast<size_t>(rows), 0.0f);
  for (int64_t p = 0; p < positions; ++p)
    row_max[event_row[p]] = std::max(row_max[event_row[p]], scores[p]);
  for (int64_t p = 0; p < positions; ++p) {
    scores[p] = std::exp(scores[p] - row_max[event_row[p]]);
    row_sum[event_row[p]] += scores[p];
  }
  for (int64_t p = 0; p < positions; ++p)
    scores[p] /= row_sum[event_row[p]];
  const std::vector<float> evolved = m.evolution.Run(states, packed, scores.data());

  // The final MLP on [dense, other fields, unpaired lists, target, mean, target*mean, interest].
  const int64_t width = a.MlpWidth();
  std::vector<float> x(static_cast<size_t>(rows * width));
  const auto lists_table = m.lists_table.defined() ? m.lists_table.data_ptr<float>()
                                                   : static_cast<const float*>(nullptr);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t row = begin + r;
    float* dst = x.data() + r * width;
    if (a.dense_features > 0) {
      std::copy(batch.dense + row * a.dense_features, batch.dense + (row + 1) * a.dense_features,
                dst);
      dst += a.dense_features;
    }
    const int32_t* ids = batch.categorical + row * columns;
    for (size_t o = 0; o < m.others.size(); ++o, dst += d) {
      const int64_t c = m.others[o];
      const float* src = row_of(m.column_tables[c], ids[c], "categorical", c);
      std::copy(src, src + d, dst);
    }
    for (size_t j = 0; j < m.unpaired.size(); ++j, dst += d) {
      PoolListRow({lists_table, m.lists_offsets[j], a.list_sizes[m.unpaired[j]], d},
                  batch.jagged[m.unpaired[j]], row, Pooling::kMean, dst, "dien inference",
                  m.unpaired[j]);
    }
    const float* tr = target.data() + r * e;
    const float* mr = mean.data() + r * e;
    for (int64_t j = 0; j < e; ++j) {
      dst[j] = tr[j];
      dst[e + j] = mr[j];
      dst[2 * e + j] = tr[j] * mr[j];
    }
    dst += 3 * e;
    if (length[r] > 0) {
      const float* src = evolved.data() + (packed.step_offsets[length[r] - 1] + rank[r]) * h;
      std::copy(src, src + h, dst);
    } else {
      std::fill(dst, dst + h, 0.0f);
    }
  }
  for (const Layer& layer : m.mlp) {
    std::vector<float> y(static_cast<size_t>(rows * layer.out));
    layer.Run(rows, x.data(), y.data());
    x.swap(y);
  }
  for (int64_t r = 0; r < rows; ++r)
    out[r] = a.task == data::Task::kBinary ? 1.0f / (1.0f + std::exp(-x[r])) : x[r];
}

}  // namespace aiok::models
