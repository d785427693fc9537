// Row conversions between fp32 and fp16 / bf16. Each has a scalar loop (the
// inline functions in fp16.h) and, on x86, an AVX-512 or F16C path chosen at
// run time. The SIMD paths must give the same bits as the scalar ones; the
// NaN lanes are patched because the hardware keeps NaN payloads.
#include "qkv/fp16.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns falsely inside its own AVX-512 intrinsic headers (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if defined(__x86_64__)
#include <immintrin.h>

#include "qkv/cpu.h"
#endif

namespace qkv {
namespace {

#if defined(__x86_64__)
bool has_avx512() { return cpu().avx512; }
bool has_f16c() { return cpu().avx2; }

__attribute__((target("avx512f,avx512bw,avx512vl"))) size_t fp16_to_fp32_avx512(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));  // exact; NaNs come out quiet, as in the scalar code
  }
  return i;
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) size_t fp32_to_fp16_avx512(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512i inf = _mm512_set1_epi32(0x7F800000);
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(src + i);
    __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512i bits = _mm512_castps_si512(v);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, abs_mask), inf);
    if (nan) {
      __m256i canon = _mm512_cvtepi32_epi16(_mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(bits, 16),
                                                                             _mm512_set1_epi32(0x8000)),
                                                            _mm512_set1_epi32(0x7E00)));
      h = _mm256_mask_blend_epi16(nan, h, canon);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
  }
  return i;
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) size_t fp32_to_bf16_avx512(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512i inf = _mm512_set1_epi32(0x7F800000);
  const __m512i one = _mm512_set1_epi32(1);
  for (; i + 16 <= n; i += 16) {
    __m512i x = _mm512_loadu_si512(src + i);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(x, abs_mask), inf);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), one);
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), lsb)), 16);
    __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(64));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet)));
  }
  return i;
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) size_t bf16_to_fp32_avx512(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_si512(dst + i, _mm512_slli_epi32(w, 16));
  }
  return i;
}

__attribute__((target("avx2,f16c"))) size_t fp16_to_fp32_f16c(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  return i;
}
#endif

}  // namespace

void fp16_to_fp32_row(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
#if defined(__x86_64__)
  if (has_avx512()) i = fp16_to_fp32_avx512(src, dst, n);
  else if (has_f16c()) i = fp16_to_fp32_f16c(src, dst, n);
#endif
  for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}

void fp32_to_fp16_row(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
#if defined(__x86_64__)
  if (has_avx512()) i = fp32_to_fp16_avx512(src, dst, n);
#endif
  for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

void fp32_to_bf16_row(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
#if defined(__x86_64__)
  if (has_avx512()) i = fp32_to_bf16_avx512(src, dst, n);
#endif
  for (; i < n; ++i) dst[i] = fp32_to_bf16(src[i]);
}

void bf16_to_fp32_row(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
#if defined(__x86_64__)
  if (has_avx512()) i = bf16_to_fp32_avx512(src, dst, n);
#endif
  for (; i < n; ++i) dst[i] = bf16_to_fp32(src[i]);
}

}  // namespace qkv
