#include "aiok/models/dot_interaction.h"

#include <immintrin.h>

#include "aiok/core/error.h"
#include "aiok/models/dot_product.h"

namespace aiok::models {
namespace {

// Row r's vectors: the bottom output, then the embeddings.
inline const float* Vector(const float* bottom, const float* embeddings, int64_t r, int64_t v,
                           int64_t tables, int64_t d) {
  return v == 0 ? bottom + r * d : embeddings + (r * tables + (v - 1)) * d;
}

// One row's backward for widths 8 and 16: dv_i = [i == 0] g_bottom + sum_j c_ij g_p(i,j) v_j,
// c = 2 on the diagonal, accumulated in AVX2 registers (left to itself, the compiler
// vectorized across j with gathers, 5x slower).
#if defined(__AVX2__) && defined(__FMA__)
template <int D>
void BackwardRow(const float* const* v, float* const* dv, int64_t n, const float* pair_grad,
                 const int32_t* pair_of, const float* bottom_grad) {
  static_assert(D == 8 || D == 16, "vector widths 8 and 16");
  for (int64_t i = 0; i < n; ++i) {
    __m256 acc0 = i == 0 ? _mm256_loadu_ps(bottom_grad) : _mm256_setzero_ps();
    __m256 acc1 = (D == 16 && i == 0) ? _mm256_loadu_ps(bottom_grad + 8) : _mm256_setzero_ps();
    for (int64_t j = 0; j < n; ++j) {
      const int32_t p = pair_of[i * n + j];
      if (p < 0)
        continue;
      const __m256 g = _mm256_set1_ps(i == j ? 2.0f * pair_grad[p] : pair_grad[p]);
      acc0 = _mm256_fmadd_ps(g, _mm256_loadu_ps(v[j]), acc0);
      if (D == 16)
        acc1 = _mm256_fmadd_ps(g, _mm256_loadu_ps(v[j] + 8), acc1);
    }
    _mm256_storeu_ps(dv[i], acc0);
    if (D == 16)
      _mm256_storeu_ps(dv[i] + 8, acc1);
  }
}
#endif

void BackwardRowAnyWidth(const float* const* v, float* const* dv, int64_t n, int64_t d,
                         const float* pair_grad, const int32_t* pair_of,
                         const float* bottom_grad) {
  for (int64_t i = 0; i < n; ++i) {
    float* out = dv[i];
    for (int64_t k = 0; k < d; ++k)
      out[k] = i == 0 ? bottom_grad[k] : 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      const int32_t p = pair_of[i * n + j];
      if (p < 0)
        continue;
      const float g = i == j ? 2.0f * pair_grad[p] : pair_grad[p];
      for (int64_t k = 0; k < d; ++k)
        out[k] += g * v[j][k];
    }
  }
}

class DotInteractionFunction : public torch::autograd::Function<DotInteractionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor bottom,
                               torch::Tensor embeddings, bool with_self) {
    const torch::Tensor b = bottom.to(torch::kFloat32).contiguous();
    const torch::Tensor e = embeddings.to(torch::kFloat32).contiguous();
    ctx->save_for_backward({b, e});
    ctx->saved_data["with_self"] = with_self;
    ctx->saved_data["bottom_type"] = static_cast<int64_t>(bottom.scalar_type());
    ctx->saved_data["embeddings_type"] = static_cast<int64_t>(embeddings.scalar_type());
    const int64_t rows = b.size(0);
    const int64_t d = b.size(1);
    const int64_t tables = e.size(1);
    const auto pairs = InteractionPairs(tables + 1, with_self);
    const int64_t width = d + static_cast<int64_t>(pairs.size());
    torch::Tensor out = torch::empty({rows, width}, b.options());
    const float* bp = b.data_ptr<float>();
    const float* ep = e.data_ptr<float>();
    float* op = out.data_ptr<float>();
    at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        float* row = op + r * width;
        std::copy(bp + r * d, bp + (r + 1) * d, row);
        float* pair_out = row + d;
        for (const auto& [i, j] : pairs)
          *pair_out++ = Dot(Vector(bp, ep, r, i, tables, d), Vector(bp, ep, r, j, tables, d), d);
      }
    });
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& b = saved[0];
    const torch::Tensor& e = saved[1];
    const bool with_self = ctx->saved_data["with_self"].toBool();
    const torch::Tensor g = grads[0].to(torch::kFloat32).contiguous();
    const int64_t rows = b.size(0);
    const int64_t d = b.size(1);
    const int64_t tables = e.size(1);
    const auto pairs = InteractionPairs(tables + 1, with_self);
    const int64_t width = d + static_cast<int64_t>(pairs.size());
    torch::Tensor db = torch::empty_like(b);
    torch::Tensor de = torch::empty_like(e);
    const float* bp = b.data_ptr<float>();
    const float* ep = e.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* dbp = db.data_ptr<float>();
    float* dep = de.data_ptr<float>();
    // Pair (i, j) of the output, or -1, for every (i, j): the backward walks vector by vector.
    const int64_t n = tables + 1;
    std::vector<int32_t> pair_of(static_cast<size_t>(n * n), -1);
    for (size_t p = 0; p < pairs.size(); ++p) {
      pair_of[pairs[p].first * n + pairs[p].second] = static_cast<int32_t>(p);
      pair_of[pairs[p].second * n + pairs[p].first] = static_cast<int32_t>(p);
    }
    at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
      std::vector<const float*> v(static_cast<size_t>(n));
      std::vector<float*> dv(static_cast<size_t>(n));
      for (int64_t r = begin; r < end; ++r) {
        const float* grow = gp + r * width;
        for (int64_t i = 0; i < n; ++i) {
          v[i] = Vector(bp, ep, r, i, tables, d);
          dv[i] = i == 0 ? dbp + r * d : dep + (r * tables + (i - 1)) * d;
        }
        // dv_i = sum_j g_ij v_j over the pairs that hold v_i (g_ii counts twice: <v_i, v_i>);
        // the bottom output also passes its own gradient straight through.
#if defined(__AVX2__) && defined(__FMA__)
        if (d == 16) {
          BackwardRow<16>(v.data(), dv.data(), n, grow + d, pair_of.data(), grow);
          continue;
        }
        if (d == 8) {
          BackwardRow<8>(v.data(), dv.data(), n, grow + d, pair_of.data(), grow);
          continue;
        }
#endif
        BackwardRowAnyWidth(v.data(), dv.data(), n, d, grow + d, pair_of.data(), grow);
      }
    });
    const auto bottom_type = static_cast<c10::ScalarType>(ctx->saved_data["bottom_type"].toInt());
    const auto embeddings_type =
        static_cast<c10::ScalarType>(ctx->saved_data["embeddings_type"].toInt());
    return {db.to(bottom_type), de.to(embeddings_type), torch::Tensor()};
  }
};

}  // namespace

std::vector<std::pair<int32_t, int32_t>> InteractionPairs(int64_t vectors, bool with_self) {
  std::vector<std::pair<int32_t, int32_t>> pairs;
  for (int64_t i = 0; i < vectors; ++i) {
    for (int64_t j = 0; j < (with_self ? i + 1 : i); ++j)
      pairs.emplace_back(static_cast<int32_t>(i), static_cast<int32_t>(j));
  }
  return pairs;
}

torch::Tensor DotInteraction(const torch::Tensor& bottom, const torch::Tensor& embeddings,
                             bool with_self) {
  AIOK_CHECK(bottom.dim() == 2 && embeddings.dim() == 3 && bottom.size(0) == embeddings.size(0) &&
                 bottom.size(1) == embeddings.size(2),
             ErrorKind::kInvalidInput,
             "dot interaction: expected bottom [batch, d] and embeddings [batch, tables, d], got "
             "{} and {}",
             c10::str(bottom.sizes()), c10::str(embeddings.sizes()));
  return DotInteractionFunction::apply(bottom, embeddings, with_self);
}

}  // namespace aiok::models
