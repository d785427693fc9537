// Float matrix products for the trainer whose bits never depend on the
// thread count, whatever OpenBLAS does inside.
//
// OpenBLAS's own threading is not thread-count-independent for every build
// and core type (with OPENBLAS_CORETYPE=Haswell a product's bits change with
// its thread count), so OpenBLAS always runs single-threaded here and we
// split the work ourselves: the output is cut into tiles whose bounds depend
// only on the shape, each tile is one single-threaded sgemm, and the tiles
// are shared out among our threads. A tile's bits are then the same whichever
// thread computes it and however many there are.
#pragma once

#include <cstdint>

namespace qkv::train::ops {

// C[M x N] = alpha * op(A) . op(B) + beta * C, all row-major; op(A) is A
// [M x K] (lda) or, with trans_a, A^T for A [K x M]; likewise op(B) [K x N].
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads);

// The same product as one single-threaded sgemm call on the calling thread:
// for callers that already run many independent products in parallel.
void gemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace qkv::train::ops
