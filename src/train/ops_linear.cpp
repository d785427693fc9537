// Linear layers: the matrix products that hold nearly all of the training
// FLOPs, on OpenBLAS (which splits rows and columns of the output across its
// threads, never the summed dimension, so a given thread count always gives
// the same bits), with the readable loops they must agree with.
#include <cblas.h>

#include "train/ops.h"

namespace qkv::train::ops {

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

void linear_forward(const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* y) {
  // y[N x O] = x[N x I] . w^T
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(N), static_cast<int>(O), static_cast<int>(I),
              1.0f, x, static_cast<int>(I), w, static_cast<int>(I), 0.0f, y, static_cast<int>(O));
}

void linear_backward(const float* dy, const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* dx,
                     bool accumulate_dx, float* dw) {
  const int n = static_cast<int>(N), in = static_cast<int>(I), out = static_cast<int>(O);
  // dx[N x I] (+)= dy[N x O] . w[O x I]
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, w, in, accumulate_dx ? 1.0f : 0.0f,
              dx, in);
  // dw[O x I] += dy^T[O x N] . x[N x I]
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
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
