// Linear layers: the matrix products that hold nearly all of the training
// FLOPs, as fixed tiles over OpenBLAS (gemm.h: the bits never depend on the
// thread count), with the readable loops they must agree with.
#include "train/gemm.h"
#include "train/ops.h"

namespace qkv::train::ops {

void linear_forward(const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* y, int threads) {
  // y[N x O] = x[N x I] . w^T
  gemm(false, true, N, O, I, 1.0f, x, I, w, I, 0.0f, y, O, threads);
}

void linear_backward(const float* dy, const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* dx,
                     bool accumulate_dx, float* dw, int threads) {
  // dx[N x I] (+)= dy[N x O] . w[O x I]
  gemm(false, false, N, I, O, 1.0f, dy, O, w, I, accumulate_dx ? 1.0f : 0.0f, dx, I, threads);
  // dw[O x I] += dy^T[O x N] . x[N x I]
  gemm(true, false, O, I, N, 1.0f, dy, O, x, I, 1.0f, dw, I, threads);
}

namespace ref {

void linear_forward(const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* y) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      float sum = 0;
      for (int64_t i = 0; i < I; ++i) sum += x[n * I + i] * w[o * I + i];
      y[n * O + o] = sum;
    }
}

void linear_backward(const float* dy, const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* dx,
                     bool accumulate_dx, float* dw) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < I; ++i) {
      float sum = 0;
      for (int64_t o = 0; o < O; ++o) sum += dy[n * O + o] * w[o * I + i];
      dx[n * I + i] = (accumulate_dx ? dx[n * I + i] : 0.0f) + sum;
    }
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) {
      float sum = 0;
      for (int64_t n = 0; n < N; ++n) sum += dy[n * O + o] * x[n * I + i];
      dw[o * I + i] += sum;
    }
}

}  // namespace ref
}  // namespace qkv::train::ops
