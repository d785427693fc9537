// x86 building blocks shared by the dot kernels (vec_dot_avx2.cpp,
// vec_dot_avx512.cpp), the interleaved kernels (repack_avx512.cpp) and
// attention: loads, scalar field reads, horizontal sums, nibble unpacking.
//
// They are compiled for AVX2 + FMA + F16C and always inlined: a kernel built
// for AVX-512 (a superset) inlines them as well, so each helper is written
// once for every instruction set that uses it.
#pragma once

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "runtime/vec_dot.h"

// For the kernels (function attributes; the build may target any x86-64).
#define QKV_AVX2 __attribute__((target("avx2,fma,f16c")))
#define QKV_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
// For the helpers below.
#define QKV_AVX2_HELPER __attribute__((target("avx2,fma,f16c"), always_inline)) inline

namespace qkv::ops::x86 {

inline const uint8_t* bytes(const void* p) { return static_cast<const uint8_t*>(p); }

QKV_AVX2_HELPER float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);  // exact, like fp16_to_fp32
}
inline float f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}
QKV_AVX2_HELPER __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
QKV_AVX2_HELPER __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
QKV_AVX2_HELPER __m256i bytes_of(int v) { return _mm256_set1_epi8(static_cast<char>(v)); }
// Shift right within 16-bit lanes: each byte's bits move down, and the low
// byte takes the high byte's bottom bits, which every caller masks off.
template <int kBits>
QKV_AVX2_HELPER __m256i shr(__m256i v) {
  return _mm256_srli_epi16(v, kBits);
}

// Sums of the 8 lanes, always in this order (the kernels' bits depend on it).
QKV_AVX2_HELPER float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
QKV_AVX2_HELPER int hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// 16 bytes of packed nibbles as 32 bytes: the low nibbles (elements 0..15), then the high ones.
QKV_AVX2_HELPER __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i q = load16(qs);
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), bytes_of(0xF));
}
// IQ4 levels of 32 nibble indices (a table lookup per byte).
QKV_AVX2_HELPER __m256i iq4_levels(const uint8_t* qs) {
  const __m256i table = _mm256_broadcastsi128_si256(load16(reinterpret_cast<const uint8_t*>(kIq4nlValues)));
  return _mm256_shuffle_epi8(table, unpack_nibbles(qs));
}

// The levels of one 32-element block, in element order (block layouts in quant/blocks.h).
QKV_AVX2_HELPER __m256i levels_q4_0(const uint8_t* b) {
  return _mm256_sub_epi8(unpack_nibbles(b + offsetof(block_q4_0, qs)), bytes_of(8));
}
QKV_AVX2_HELPER __m256i levels_q8_0(const uint8_t* b) { return load32(b + offsetof(block_q8_0, qs)); }
QKV_AVX2_HELPER __m256i levels_iq4_nl(const uint8_t* b) { return iq4_levels(b + offsetof(block_iq4_nl, qs)); }

}  // namespace qkv::ops::x86

#endif
