// The scalar reference for causal grouped-query attention: one query at a
// time, only the keys it may see. The fast path (ops_attention.cpp) must agree.
#include <algorithm>
#include <cmath>
#include <vector>

#include "qkv/parallel.h"
#include "runtime/ops.h"
#include "train/ops.h"

namespace qkv::train::ops::ref {
namespace {

void axpy(float a, const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void attention_forward(const float* q, const float* k, const float* v, const AttentionDims& d, float* probs,
                       float* out, int threads) {
  const int64_t T = d.T, H = d.H, D = d.D, group = d.H / d.K;
  const int64_t q_row = H * D, kv_row = d.K * D;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  parallel_for(d.B * H, threads, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      const int64_t b = job / H, h = job % H, kvh = h / group;
      const float* kb = k + b * T * kv_row + kvh * D;
      const float* vb = v + b * T * kv_row + kvh * D;
      for (int64_t t = 0; t < T; ++t) {
        const float* qt = q + (b * T + t) * q_row + h * D;
        float* p = probs + (job * T + t) * T;  // [B x H x T x T]: row (b, h, t)
        // The runtime's softmax: max-subtracted, the sum in double.
        for (int64_t j = 0; j <= t; ++j) p[j] = qkv::ops::dot(qt, kb + j * kv_row, D) * scale;
        const float mx = *std::max_element(p, p + t + 1);
        double sum = 0;
        for (int64_t j = 0; j <= t; ++j) sum += (p[j] = std::exp(p[j] - mx));
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j <= t; ++j) p[j] *= inv;
        std::fill(p + t + 1, p + T, 0.0f);
        float* o = out + (b * T + t) * q_row + h * D;
        std::fill(o, o + D, 0.0f);
        for (int64_t j = 0; j <= t; ++j) axpy(p[j], vb + j * kv_row, o, D);
      }
    }
  });
}

void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* probs,
                        const AttentionDims& d, float* dq, float* dk, float* dv, int threads) {
  const int64_t T = d.T, H = d.H, K = d.K, D = d.D, group = d.H / d.K;
  const int64_t q_row = H * D, kv_row = K * D;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  // One job per (sequence, key/value head): it owns that head's dk and dv
  // and the dq of the query heads that read it, so no two jobs write the same value.
  parallel_for(d.B * K, threads, [&](int64_t begin, int64_t end) {
    std::vector<float> ds(static_cast<size_t>(T));
    for (int64_t job = begin; job < end; ++job) {
      const int64_t b = job / K, kvh = job % K;
      const float* kb = k + b * T * kv_row + kvh * D;
      const float* vb = v + b * T * kv_row + kvh * D;
      float* dkb = dk + b * T * kv_row + kvh * D;
      float* dvb = dv + b * T * kv_row + kvh * D;
      for (int64_t t = 0; t < T; ++t) {
        std::fill(dkb + t * kv_row, dkb + t * kv_row + D, 0.0f);
        std::fill(dvb + t * kv_row, dvb + t * kv_row + D, 0.0f);
      }
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h)
        for (int64_t t = 0; t < T; ++t) {
          const int64_t row = (b * T + t) * q_row + h * D;
          const float* p = probs + ((b * H + h) * T + t) * T;
          const float* do_t = dout + row;  // d(out) of this token and head
          double sum = 0;  // sum_j p_j dp_j
          for (int64_t j = 0; j <= t; ++j) {
            ds[j] = qkv::ops::dot(do_t, vb + j * kv_row, D);  // dp_j for now
            sum += double(p[j]) * ds[j];
            axpy(p[j], do_t, dvb + j * kv_row, D);
          }
          const float s = static_cast<float>(sum);
          float* dqt = dq + row;
          std::fill(dqt, dqt + D, 0.0f);
          for (int64_t j = 0; j <= t; ++j) {
            const float dsj = p[j] * (ds[j] - s) * scale;
            axpy(dsj, kb + j * kv_row, dqt, D);
            axpy(dsj, q + row, dkb + j * kv_row, D);
          }
        }
    }
  });
}

}  // namespace qkv::train::ops::ref
