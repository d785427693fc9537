// One query head's attention over the KV cache: the scalar reference and the
// AVX2 + F16C path (attention.h).
#include "runtime/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "qkv/cpu.h"
#include "qkv/fp16.h"
#include "runtime/ops.h"

#if defined(__x86_64__)
#include "runtime/simd_x86.h"
#endif

namespace qkv::ops {
namespace {

float round_fp16(float v) { return fp16_to_fp32(fp32_to_fp16(v)); }

#if defined(__x86_64__)
using x86::hsum;

QKV_AVX2 inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
QKV_AVX2 inline __m256 round_f16(__m256 v) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
// hd a multiple of 8, at most kMaxHeadDim.
constexpr int64_t kMaxHeadDim = 512;
QKV_AVX2 void attend_f16_avx2(const float* q, const KvView& kv, int64_t n_keys, int64_t hd, float scale,
                              float* out) {
  const int64_t nv = hd / 8;
  __m256 q16[kMaxHeadDim / 8], acc[kMaxHeadDim / 8];
  for (int64_t i = 0; i < nv; ++i) q16[i] = round_f16(_mm256_loadu_ps(q + 8 * i)), acc[i] = _mm256_setzero_ps();
  float max_score = -INFINITY, sum = 0.0f;
  for (int64_t j = 0; j < n_keys; ++j) {
    const uint16_t* k = kv.k + j * kv.stride;
    __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nv; i += 2) {
      d0 = _mm256_fmadd_ps(q16[i], load_f16(k + 8 * i), d0);
      d1 = _mm256_fmadd_ps(q16[i + 1], load_f16(k + 8 * i + 8), d1);
    }
    if (i < nv) d0 = _mm256_fmadd_ps(q16[i], load_f16(k + 8 * i), d0);
    const float score = hsum(_mm256_add_ps(d0, d1)) * scale;
    float old_scale = 1.0f, weight = 1.0f;
    if (score > max_score) {  // new maximum: rescale what was accumulated
      old_scale = std::exp(max_score - score);
      max_score = score;
      const __m256 s = _mm256_set1_ps(old_scale);
      for (int64_t m = 0; m < nv; ++m) acc[m] = round_f16(_mm256_mul_ps(acc[m], s));
    } else {
      weight = std::exp(score - max_score);
    }
    const uint16_t* v = kv.v + j * kv.stride;
    const __m256 w = _mm256_set1_ps(weight);
    for (int64_t m = 0; m < nv; ++m) acc[m] = round_f16(_mm256_fmadd_ps(load_f16(v + 8 * m), w, acc[m]));
    sum = sum * old_scale + weight;
  }
  const __m256 inv = _mm256_set1_ps(1.0f / sum);
  for (int64_t m = 0; m < nv; ++m) _mm256_storeu_ps(out + 8 * m, _mm256_mul_ps(acc[m], inv));
}
#endif

}  // namespace

namespace ref {

void attend_f16(const float* q, const KvView& kv, int64_t n_keys, int64_t hd, float scale, float* out) {
  std::vector<float> q16(hd), k(hd), v(hd), acc(hd, 0.0f);
  for (int64_t i = 0; i < hd; ++i) q16[i] = round_fp16(q[i]);
  float max_score = -INFINITY, sum = 0.0f;
  for (int64_t j = 0; j < n_keys; ++j) {
    fp16_to_fp32_row(kv.k + j * kv.stride, k.data(), hd);
    double dot = 0;
    for (int64_t i = 0; i < hd; ++i) dot += static_cast<double>(q16[i] * k[i]);
    const float score = static_cast<float>(dot) * scale;
    float old_scale = 1.0f, weight = 1.0f;
    if (score > max_score) {  // new maximum: rescale what was accumulated
      old_scale = std::exp(max_score - score);
      max_score = score;
      for (int64_t i = 0; i < hd; ++i) acc[i] = round_fp16(acc[i] * old_scale);
    } else {
      weight = std::exp(score - max_score);
    }
    fp16_to_fp32_row(kv.v + j * kv.stride, v.data(), hd);
    for (int64_t i = 0; i < hd; ++i) acc[i] = round_fp16(acc[i] + v[i] * weight);
    sum = sum * old_scale + weight;
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < hd; ++i) out[i] = acc[i] * inv;
}

}  // namespace ref

void attend_f16(const float* q, const KvView& kv, int64_t n_keys, int64_t hd, float scale, float* out) {
#if defined(__x86_64__)
  if (cpu().avx2 && hd % 8 == 0 && hd <= kMaxHeadDim) return attend_f16_avx2(q, kv, n_keys, hd, scale, out);
#endif
  ref::attend_f16(q, kv, n_keys, hd, scale, out);
}

void attend_f32(const float* q, const float* k, const float* v, size_t stride, int64_t n_keys, int64_t hd,
                float scale, float* scores, float* out) {
  for (int64_t j = 0; j < n_keys; ++j) scores[j] = dot(q, k + j * stride, hd) * scale;
  softmax(scores, n_keys);
  std::fill(out, out + hd, 0.0f);
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* vj = v + j * stride;
    for (int64_t i = 0; i < hd; ++i) out[i] += scores[j] * vj[i];
  }
}

}  // namespace qkv::ops
