// Rotary position embedding on adjacent pairs (ggml's "normal" layout, the
// one llama.cpp uses for GGUF llama models): pair i of a head turns by the
// angle pos * base^(-2i/D). The backward pass turns the gradient back by the
// same angle, since a rotation's transpose is its inverse.
#include <cmath>

#include "qkv/parallel.h"
#include "train/ops.h"

namespace qkv::train::ops {

RopeTable rope_table(int64_t T, int64_t D, float base) {
  RopeTable r;
  r.T = T;
  r.half = D / 2;
  r.cos.resize(static_cast<size_t>(T * r.half));
  r.sin.resize(r.cos.size());
  for (int64_t pos = 0; pos < T; ++pos)
    for (int64_t i = 0; i < r.half; ++i) {
      // As runtime/ops.cpp computes it: the angle in double, cos and sin rounded to float.
      const double theta = static_cast<double>(pos) * std::pow(static_cast<double>(base), -2.0 * i / D);
      r.cos[pos * r.half + i] = static_cast<float>(std::cos(theta));
      r.sin[pos * r.half + i] = static_cast<float>(std::sin(theta));
    }
  return r;
}

namespace {

// Rotates every pair by +angle (sign = 1) or -angle (sign = -1).
void rotate(float* x, int64_t B, int64_t T, int64_t heads, int64_t D, const RopeTable& rope, float sign,
            int threads) {
  const int64_t half = D / 2;
  parallel_for(B * T, threads, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const int64_t pos = n % T;
      const float* cs = &rope.cos[pos * rope.half];
      const float* sn = &rope.sin[pos * rope.half];
      for (int64_t h = 0; h < heads; ++h) {
        float* v = x + (n * heads + h) * D;
        for (int64_t i = 0; i < half; ++i) {
          const float c = cs[i], s = sign * sn[i];
          const float x0 = v[2 * i], x1 = v[2 * i + 1];
          v[2 * i] = x0 * c - x1 * s;
          v[2 * i + 1] = x0 * s + x1 * c;
        }
      }
    }
  });
}

}  // namespace

void rope_forward(float* x, int64_t B, int64_t T, int64_t heads, int64_t D, const RopeTable& rope, int threads) {
  rotate(x, B, T, heads, D, rope, 1.0f, threads);
}

void rope_backward(float* dx, int64_t B, int64_t T, int64_t heads, int64_t D, const RopeTable& rope, int threads) {
  rotate(dx, B, T, heads, D, rope, -1.0f, threads);
}

}  // namespace qkv::train::ops
