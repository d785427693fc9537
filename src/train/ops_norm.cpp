// RMSNorm: out = x * rstd * w with rstd = 1 / sqrt(mean(x^2) + eps).
// The forward pass is the runtime's expression for expression, so a trained
// model exported to GGUF computes the same numbers there.
#include <cmath>
#include <vector>

#include "qkv/parallel.h"
#include "train/ops.h"

namespace qkv::train::ops {

void rmsnorm_forward(const float* x, const float* w, int64_t N, int64_t C, float eps, float* out, float* rstd,
                     int threads) {
  parallel_for(N, threads, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* xn = x + n * C;
      double ss = 0;
      for (int64_t c = 0; c < C; ++c) ss += double(xn[c]) * xn[c];
      const float r = static_cast<float>(1.0 / std::sqrt(ss / C + eps));
      rstd[n] = r;
      for (int64_t c = 0; c < C; ++c) out[n * C + c] = xn[c] * r * w[c];
    }
  });
}

void rmsnorm_backward(const float* dout, const float* x, const float* w, const float* rstd, int64_t N, int64_t C,
                      float* dx, float* dw, int threads) {
  // dx_i = r * dout_i * w_i - x_i * r^3 / C * sum_j dout_j * w_j * x_j
  parallel_for(N, threads, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* xn = x + n * C;
      const float* dn = dout + n * C;
      double dot = 0;
      for (int64_t c = 0; c < C; ++c) dot += double(dn[c]) * w[c] * xn[c];
      const double r = rstd[n];
      const float k = static_cast<float>(r * r * r * dot / C);
      const float rf = rstd[n];
      for (int64_t c = 0; c < C; ++c) dx[n * C + c] += rf * dn[c] * w[c] - k * xn[c];
    }
  });
  // dw_c = sum_n dout[n,c] * x[n,c] * r_n: split by column, so each sum runs in row order.
  parallel_for(C, threads, [&](int64_t begin, int64_t end) {
    std::vector<float> sum(static_cast<size_t>(end - begin), 0.0f);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = begin; c < end; ++c) sum[c - begin] += dout[n * C + c] * x[n * C + c] * rstd[n];
    for (int64_t c = begin; c < end; ++c) dw[c] += sum[c - begin];
  });
}

}  // namespace qkv::train::ops
