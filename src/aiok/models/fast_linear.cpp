#include "aiok/models/fast_linear.h"

#include <ATen/autocast_mode.h>
#include <oneapi/dnnl/dnnl.h>

#include <cmath>

#include "aiok/core/error.h"

namespace aiok::models {
namespace {

class LinearFunction : public torch::autograd::Function<LinearFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               torch::Tensor weight, torch::Tensor bias) {
    ctx->save_for_backward({x, weight});
    const int64_t batch = x.size(0);
    const int64_t in = x.size(1);
    const int64_t out = weight.size(0);
    // y = x W^T + b: start from the bias broadcast to every row, then add the product.
    // clone, not contiguous(): for one row the expanded view is already contiguous, and
    // contiguous() would hand back the bias itself for the GEMM to overwrite.
    torch::Tensor y = bias.unsqueeze(0).expand({batch, out}).clone(at::MemoryFormat::Contiguous);
    Sgemm(false, true, batch, out, in, 1.0f, x.data_ptr<float>(), in, weight.data_ptr<float>(),
          in, 1.0f, y.data_ptr<float>(), out);
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor dy = grads[0].contiguous();
    const int64_t batch = x.size(0);
    const int64_t in = x.size(1);
    const int64_t out = weight.size(0);
    torch::Tensor dx;
    if (ctx->needs_input_grad(0)) {
      dx = torch::empty({batch, in}, x.options());  // dX = dY W
      Sgemm(false, false, batch, in, out, 1.0f, dy.data_ptr<float>(), out,
            weight.data_ptr<float>(), in, 0.0f, dx.data_ptr<float>(), in);
    }
    torch::Tensor dw = torch::empty({out, in}, weight.options());  // dW = dY^T X
    Sgemm(true, false, out, in, batch, 1.0f, dy.data_ptr<float>(), out, x.data_ptr<float>(), in,
          0.0f, dw.data_ptr<float>(), in);
    return {dx, dw, dy.sum(0)};
  }
};

}  // namespace

void Sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  const dnnl_status_t status = dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n,
                                          k, alpha, a, lda, b, ldb, beta, c, ldc);
  AIOK_CHECK(status == dnnl_success, ErrorKind::kInternal, "oneDNN sgemm failed with status {}",
             static_cast<int>(status));
}

FastLinearImpl::FastLinearImpl(int64_t in_features, int64_t out_features)
    : in_features_(in_features), out_features_(out_features) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  bias = register_parameter("bias", torch::empty({out_features}));
  reset();
}

void FastLinearImpl::reset() {
  torch::NoGradGuard no_grad;
  weight.normal_(0.0, std::sqrt(2.0 / static_cast<double>(in_features_ + out_features_)));
  bias.normal_(0.0, std::sqrt(1.0 / static_cast<double>(out_features_)));
}

torch::Tensor FastLinearImpl::forward(const torch::Tensor& x) {
  AIOK_CHECK(x.dim() == 2 && x.size(1) == in_features_, ErrorKind::kInvalidInput,
             "linear: expected [batch, {}] input, got {}", in_features_, c10::str(x.sizes()));
  if (at::autocast::is_cpu_enabled() || x.scalar_type() != torch::kFloat32 || x.size(0) == 0) {
    return torch::linear(x, weight, bias);
  }
  return LinearFunction::apply(x.contiguous(), weight, bias);
}

}  // namespace aiok::models
