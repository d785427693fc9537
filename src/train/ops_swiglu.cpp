// The SwiGLU MLP's gate: a = silu(g) * u with silu(g) = g * sigmoid(g), so
//   dg = da * u * sigmoid(g) * (1 + g * (1 - sigmoid(g))),  du = da * silu(g).
#include <cmath>

#include "qkv/parallel.h"
#include "train/ops.h"

namespace qkv::train::ops {

void swiglu_forward(const float* g, const float* u, int64_t n, float* a, int threads) {
  parallel_for(n, threads, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) a[i] = u[i] * (g[i] / (1.0f + std::exp(-g[i])));  // the runtime's silu
  }, 1024);
}

void swiglu_backward(const float* da, const float* g, const float* u, int64_t n, float* dg, float* du,
                     int threads) {
  parallel_for(n, threads, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float sig = 1.0f / (1.0f + std::exp(-g[i]));
      du[i] = da[i] * g[i] * sig;
      dg[i] = da[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    }
  }, 1024);
}

}  // namespace qkv::train::ops
