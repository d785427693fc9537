// Causal grouped-query attention as matrix products per (sequence, head), on
// single-threaded OpenBLAS (gemm.h), the heads shared out among our threads
// so that no bit depends on the thread count. The products cover the whole
// [T x T] square, twice the causal half's work, because BLAS does it many
// times faster than the loops over visible keys in ops_attention_ref.cpp,
// which this must agree with.
//
// Per head, with S = Q K^T * scale, P = causal softmax(S), O = P V:
//   dP = dO V^T,  dS = P * (dP - rowsum(P * dP)) * scale,
//   dQ = dS K,  dK += dS^T Q,  dV += P^T dO  (summed over the query heads of a group).
// The probabilities P [T x T] per head are kept from the forward pass.
#include <algorithm>
#include <cmath>

#include "qkv/parallel.h"
#include "runtime/ops.h"
#include "train/gemm.h"
#include "train/ops.h"

namespace qkv::train::ops {
namespace {

// Row-major views of one head's [T x D] block inside a [B*T x heads*D] matrix.
struct HeadView {
  int64_t T, ld;  // rows, and the stride between them (heads * D)
  const float* at(const float* m, int64_t b, int64_t head, int64_t D) const { return m + b * T * ld + head * D; }
  float* at(float* m, int64_t b, int64_t head, int64_t D) const { return m + b * T * ld + head * D; }
};

// The runtime's softmax (max-subtracted, the sum in double) over the visible
// keys of each row of one head's scores; the masked part becomes 0.
void causal_softmax(float* scores, int64_t T) {
  for (int64_t t = 0; t < T; ++t) {
    float* p = scores + t * T;
    qkv::ops::softmax(p, t + 1);
    std::fill(p + t + 1, p + T, 0.0f);
  }
}

// dP of one head becomes dS in place: P * (dP - rowsum(P * dP)) * scale.
void softmax_backward(const float* probs, float* ds, int64_t T, float scale) {
  for (int64_t t = 0; t < T; ++t) {
    const float* p = probs + t * T;
    float* r = ds + t * T;
    double sum = 0;  // sum_j p_j dp_j
    for (int64_t j = 0; j <= t; ++j) sum += double(p[j]) * r[j];
    const float s = static_cast<float>(sum);
    for (int64_t j = 0; j <= t; ++j) r[j] = p[j] * (r[j] - s) * scale;
    std::fill(r + t + 1, r + T, 0.0f);
  }
}

}  // namespace

void attention_forward(const float* q, const float* k, const float* v, const AttentionDims& d, float* probs,
                       float* out, int threads) {
  const int64_t T = d.T, D = d.D, group = d.H / d.K;
  const HeadView qv{T, d.H * D}, kv{T, d.K * D};
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));  // as the runtime scales scores
  parallel_for(d.B * d.H, threads, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / d.H, h = bh % d.H;
      float* p = probs + bh * T * T;
      gemm_serial(false, true, T, T, D, scale, qv.at(q, b, h, D), qv.ld, kv.at(k, b, h / group, D), kv.ld, 0.0f, p,
                  T);  // S = Q K^T * scale
      causal_softmax(p, T);
      gemm_serial(false, false, T, D, T, 1.0f, p, T, kv.at(v, b, h / group, D), kv.ld, 0.0f, qv.at(out, b, h, D),
                  qv.ld);  // O = P V
    }
  });
}

void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* probs,
                        const AttentionDims& d, float* dq, float* dk, float* dv, float* scratch, int threads) {
  const int64_t T = d.T, D = d.D, group = d.H / d.K;
  const HeadView qv{T, d.H * D}, kv{T, d.K * D};
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  // One task per (sequence, key/value head): its query heads add into the
  // same dK and dV, so they run in order within the task.
  parallel_for(d.B * d.K, threads, [&](int64_t begin, int64_t end) {
    for (int64_t bk = begin; bk < end; ++bk) {
      const int64_t b = bk / d.K, kvh = bk % d.K;
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        const float* p = probs + (b * d.H + h) * T * T;
        float* ds = scratch + (b * d.H + h) * T * T;  // dP, then dS in place
        gemm_serial(false, true, T, T, D, 1.0f, qv.at(dout, b, h, D), qv.ld, kv.at(v, b, kvh, D), kv.ld, 0.0f, ds,
                    T);  // dP = dO V^T
        softmax_backward(p, ds, T, scale);
        const float beta = h % group == 0 ? 0.0f : 1.0f;  // the group's first query head overwrites dK, dV
        gemm_serial(false, false, T, D, T, 1.0f, ds, T, kv.at(k, b, kvh, D), kv.ld, 0.0f, qv.at(dq, b, h, D),
                    qv.ld);  // dQ = dS K
        gemm_serial(true, false, T, D, T, 1.0f, ds, T, qv.at(q, b, h, D), qv.ld, beta, kv.at(dk, b, kvh, D),
                    kv.ld);  // dK += dS^T Q
        gemm_serial(true, false, T, D, T, 1.0f, p, T, qv.at(dout, b, h, D), qv.ld, beta, kv.at(dv, b, kvh, D),
                    kv.ld);  // dV += P^T dO
      }
    }
  });
}

}  // namespace qkv::train::ops
