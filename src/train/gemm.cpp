// Fixed output tiles over single-threaded OpenBLAS; see gemm.h for why.
#include "train/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <mutex>

#include "qkv/parallel.h"

namespace qkv::train::ops {
namespace {

// Tile bounds depend on the shape alone. 256 x 256 keeps the repacking each
// tile repeats (its panels of A and B) under 1% of its multiply-adds while
// giving a layer of a small model several tiles to share out (measured with
// bench_train: 128 x 128 tiles were 3% slower).
constexpr int64_t kTileRows = 256, kTileCols = 256;

void single_threaded_blas() {
  static std::once_flag once;
  // Process-wide; it also overrides OPENBLAS_NUM_THREADS from the environment.
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

}  // namespace

void gemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  single_threaded_blas();
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(M), int(N),
              int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int threads) {
  if (M <= 0 || N <= 0) return;
  const int64_t row_tiles = (M + kTileRows - 1) / kTileRows, col_tiles = (N + kTileCols - 1) / kTileCols;
  // Tiles are numbered row-major, so a thread's contiguous range shares rows of op(A).
  parallel_for(row_tiles * col_tiles, threads, [&](int64_t begin, int64_t end) {
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t i0 = tile / col_tiles * kTileRows, j0 = tile % col_tiles * kTileCols;
      const int64_t m = std::min(kTileRows, M - i0), n = std::min(kTileCols, N - j0);
      // Rows i0.. of op(A): rows of A, or columns of A^T; columns j0.. of op(B) likewise.
      const float* a = trans_a ? A + i0 : A + i0 * lda;
      const float* b = trans_b ? B + j0 * ldb : B + j0;
      gemm_serial(trans_a, trans_b, m, n, K, alpha, a, lda, b, ldb, beta, C + i0 * ldc + j0, ldc);
    }
  });
}

}  // namespace qkv::train::ops
