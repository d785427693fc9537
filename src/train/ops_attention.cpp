// Causal grouped-query attention as matrix products per (sequence, head), on
// OpenBLAS, with the row-wise softmax work between them split over threads.
// The products cover the whole [T x T] square, twice the causal half's work,
// because BLAS does it many times faster than the loops over visible keys
// in ops_attention_ref.cpp, which this must agree with.
//
// Per head, with S = Q K^T * scale, P = causal softmax(S), O = P V:
//   dP = dO V^T,  dS = P * (dP - rowsum(P * dP)) * scale,
//   dQ = dS K,  dK += dS^T Q,  dV += P^T dO  (summed over the query heads of a group).
// The probabilities P [T x T] per head are kept from the forward pass.
#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "qkv/parallel.h"
#include "train/ops.h"

namespace qkv::train::ops {
namespace {

// Row-major views of one head's [T x D] block inside a [B*T x heads*D] matrix.
struct HeadView {
  int64_t T, ld;  // rows, and the stride between them (heads * D)
  const float* at(const float* m, int64_t b, int64_t head, int64_t D) const { return m + b * T * ld + head * D; }
  float* at(float* m, int64_t b, int64_t head, int64_t D) const { return m + b * T * ld + head * D; }
};

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

}  // namespace

void attention_forward(const float* q, const float* k, const float* v, const AttentionDims& d, float* probs,
                       float* out, int threads) {
  const int64_t T = d.T, D = d.D, group = d.H / d.K;
  const HeadView qv{T, d.H * D}, kv{T, d.K * D};
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));  // as the runtime scales scores
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.H; ++h)  // S = Q K^T * scale
      gemm(CblasNoTrans, CblasTrans, T, T, D, scale, qv.at(q, b, h, D), qv.ld, kv.at(k, b, h / group, D), kv.ld, 0.0f,
           probs + (b * d.H + h) * T * T, T);
  parallel_for(d.B * d.H * T, threads, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t t = row % T;
      float* p = probs + row * T;
      // The runtime's softmax over the visible keys: max-subtracted, the sum in double.
      const float mx = *std::max_element(p, p + t + 1);
      double sum = 0;
      for (int64_t j = 0; j <= t; ++j) sum += (p[j] = std::exp(p[j] - mx));
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j <= t; ++j) p[j] *= inv;
      std::fill(p + t + 1, p + T, 0.0f);
    }
  });
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.H; ++h)  // O = P V
      gemm(CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, probs + (b * d.H + h) * T * T, T, kv.at(v, b, h / group, D),
           kv.ld, 0.0f, qv.at(out, b, h, D), qv.ld);
}

void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* probs,
                        const AttentionDims& d, float* dq, float* dk, float* dv, float* scratch, int threads) {
  const int64_t T = d.T, D = d.D, group = d.H / d.K;
  const HeadView qv{T, d.H * D}, kv{T, d.K * D};
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  float* ds = scratch;  // [B x H x T x T]: dP, then dS in place
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.H; ++h)  // dP = dO V^T
      gemm(CblasNoTrans, CblasTrans, T, T, D, 1.0f, qv.at(dout, b, h, D), qv.ld, kv.at(v, b, h / group, D), kv.ld,
           0.0f, ds + (b * d.H + h) * T * T, T);
  parallel_for(d.B * d.H * T, threads, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t t = row % T;
      const float* p = probs + row * T;
      float* r = ds + row * T;
      double sum = 0;  // sum_j p_j dp_j
      for (int64_t j = 0; j <= t; ++j) sum += double(p[j]) * r[j];
      const float s = static_cast<float>(sum);
      for (int64_t j = 0; j <= t; ++j) r[j] = p[j] * (r[j] - s) * scale;
      std::fill(r + t + 1, r + T, 0.0f);
    }
  });
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.H; ++h) {
      const int64_t kvh = h / group;
      const float* dsh = ds + (b * d.H + h) * T * T;
      const float beta = h % group == 0 ? 0.0f : 1.0f;  // the group's first query head overwrites dK, dV
      gemm(CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, dsh, T, kv.at(k, b, kvh, D), kv.ld, 0.0f, qv.at(dq, b, h, D),
           qv.ld);  // dQ = dS K
      gemm(CblasTrans, CblasNoTrans, T, D, T, 1.0f, dsh, T, qv.at(q, b, h, D), qv.ld, beta, kv.at(dk, b, kvh, D),
           kv.ld);  // dK += dS^T Q
      gemm(CblasTrans, CblasNoTrans, T, D, T, 1.0f, probs + (b * d.H + h) * T * T, T, qv.at(dout, b, h, D), qv.ld,
           beta, kv.at(dv, b, kvh, D), kv.ld);  // dV += P^T dO
    }
}

}  // namespace qkv::train::ops
