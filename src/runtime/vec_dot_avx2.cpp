// AVX2 + FMA + F16C dot products, chosen at run time (no -march needed): the
// same integer sums as the references in vec_dot_ref.cpp, 32 bytes per
// instruction, with the float accumulation in 8 lanes.
//
// The integer core is _mm256_maddubs_epi16 (unsigned bytes times signed bytes,
// adjacent pairs added into int16) followed by _mm256_madd_epi16 (int16 times
// int16, pairs added into int32). maddubs saturates a pair sum above 32767, so
// its unsigned operand must stay at most 128 when the signed one is within
// +-127: weights with signed levels go in as |w| with the sign moved onto the
// activation (_mm256_sign_epi8), and the activation quantizers never emit -128.
// K-quant sub-block scales ride on the madd instead of a vector of ones.
#include "runtime/vec_dot_kernels.h"

#if defined(__x86_64__)
#include <type_traits>

#include "runtime/simd_x86.h"

namespace qkv::ops::avx2 {

using namespace x86;

// The kernels index blocks as bytes, with the sizes and field offsets of
// ggml's structs (quant/blocks.h); each block's d is its first field.

// Sum of 4 adjacent products of unsigned bytes u (< 129) and signed bytes s, per int32 lane.
QKV_AVX2 inline __m256i dot_u8_i8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
// sum over 32 elements of scale_lo * u * s for elements 0..15 and scale_hi *
// u * s for 16..31, in int32 lanes: a K-quant pair of 16-element sub-blocks.
QKV_AVX2 inline __m256i dot_scaled(__m256i u, __m256i s, int scale_lo, int scale_hi) {
  const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(scale_hi)),
                                          _mm_set1_epi16(static_cast<short>(scale_lo)));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales);
}

// The little-endian 32-bit word at p as 32 bytes: byte j is 16 where bit j is set, else 0.
QKV_AVX2 inline __m256i fifth_bits(const uint8_t* p) {
  uint32_t word;
  std::memcpy(&word, p, 4);
  // Byte j takes byte j / 8 of the word, then keeps bit j % 8 of it.
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(word)),
                                             _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                               0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), bytes_of(16));
}
// ---- 32-element blocks against Q8_0 / Q8_1 --------------------------------------

QKV_AVX2 inline __m256i levels_q5_0(const uint8_t* b) {
  return _mm256_sub_epi8(
      _mm256_or_si256(unpack_nibbles(b + offsetof(block_q5_0, qs)), fifth_bits(b + offsetof(block_q5_0, qh))),
      bytes_of(16));
}
QKV_AVX2 inline __m256i levels_q4_1(const uint8_t* b) { return unpack_nibbles(b + offsetof(block_q4_1, qs)); }
QKV_AVX2 inline __m256i levels_q5_1(const uint8_t* b) {
  return _mm256_or_si256(unpack_nibbles(b + offsetof(block_q5_1, qs)), fifth_bits(b + offsetof(block_q5_1, qh)));
}

// These kernels and the K-quant ones below take kTokens activation rows at
// once (a[t] = a + t * stride): each weight block is unpacked once and dotted
// with every row. Per row the arithmetic is exactly that of kTokens = 1, so a
// batch gives the same bits as its tokens one by one.

// Signed levels against Q8_0: |w| goes in unsigned, its sign onto the activations.
template <typename Block, __m256i (*levels)(const uint8_t*), int kTokens>
QKV_AVX2 void dot_symmetric_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  const uint8_t* x = bytes(w);
  __m256 acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK; ++i, x += sizeof(Block)) {
    const __m256i v = levels(x), magnitude = _mm256_sign_epi8(v, v);
    const float dx = half(x);
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* y = bytes(a) + t * stride + i * sizeof(block_q8_0);
      const __m256i sums = dot_u8_i8(magnitude, _mm256_sign_epi8(load32(y + offsetof(block_q8_0, qs)), v));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * half(y)), _mm256_cvtepi32_ps(sums), acc[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) out[t] = hsum(acc[t]);
}

// Unsigned levels plus an offset m against Q8_1 (see dot_with_min in vec_dot_ref.cpp).
template <typename Block, __m256i (*levels)(const uint8_t*), int kTokens>
QKV_AVX2 void dot_with_min_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  const uint8_t* x = bytes(w);
  __m256 acc[kTokens];
  float offsets[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps(), offsets[t] = 0;
  for (int64_t i = 0; i < n / QK; ++i, x += sizeof(Block)) {
    const __m256i v = levels(x);
    const float dx = half(x), mx = half(x + offsetof(Block, m));
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* y = bytes(a) + t * stride + i * sizeof(block_q8_1);
      const __m256i sums = dot_u8_i8(v, load32(y + offsetof(block_q8_1, qs)));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * half(y)), _mm256_cvtepi32_ps(sums), acc[t]);
      offsets[t] += mx * half(y + offsetof(block_q8_1, s));
    }
  }
  for (int t = 0; t < kTokens; ++t) out[t] = hsum(acc[t]) + offsets[t];
}

// ---- super-blocks of 256 against Q8_K --------------------------------------------
// Each kernel sums its scaled levels in int32 lanes over the super-block and
// converts once; offsets and mins come from the activation sums (bsums).

// sum over the 16 sub-blocks of scale[s] * bsums[s], scales as 16 int16.
QKV_AVX2 inline __m256i scaled_bsums(const uint8_t* q8k, __m256i scales16) {
  return _mm256_madd_epi16(load32(q8k + offsetof(block_q8_K, bsums)), scales16);
}

QKV_AVX2 float dot_q2_K(const void* w, const void* a, int64_t n) {
  const uint8_t *x = bytes(w), *y = bytes(a);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(block_q2_K), y += sizeof(block_q8_K)) {
    const uint8_t *sc = x + offsetof(block_q2_K, scales), *q8 = y + offsetof(block_q8_K, qs);
    __m256i isum = _mm256_setzero_si256();
    for (int c = 0; c < 2; ++c) {
      __m256i q = load32(x + offsetof(block_q2_K, qs) + 32 * c);
      for (int g = 0; g < 4; ++g, q = shr<2>(q)) {
        const int s = 8 * c + 2 * g;  // first of the group's two sub-blocks
        isum = _mm256_add_epi32(isum, dot_scaled(_mm256_and_si256(q, bytes_of(3)), load32(q8 + 16 * s),
                                                 sc[s] & 0xF, sc[s + 1] & 0xF));
      }
    }
    const __m256i min16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(load16(sc), 4), _mm_set1_epi8(0xF)));
    const float dy = f32(y);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * half(x + offsetof(block_q2_K, d))), _mm256_cvtepi32_ps(isum), acc);
    mins += dy * half(x + offsetof(block_q2_K, dmin)) * static_cast<float>(hsum(scaled_bsums(y, min16)));
  }
  return hsum(acc) - mins;
}

// Q3_K's levels go in unsigned (q + 4 * hbit, 0..7); the bias of 4 comes off
// as 4 * scale * bsum per sub-block.
QKV_AVX2 float dot_q3_K(const void* w, const void* a, int64_t n) {
  const uint8_t *x = bytes(w), *y = bytes(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(block_q3_K), y += sizeof(block_q8_K)) {
    int8_t scales[16];
    unpack_scales_q3_K(x + offsetof(block_q3_K, scales), scales);
    const uint8_t* q8 = y + offsetof(block_q8_K, qs);
    __m256i hbits = load32(x + offsetof(block_q3_K, hmask)), isum = _mm256_setzero_si256();
    for (int c = 0; c < 2; ++c) {
      __m256i q = load32(x + offsetof(block_q3_K, qs) + 32 * c);
      for (int g = 0; g < 4; ++g, q = shr<2>(q), hbits = shr<1>(hbits)) {
        const int s = 8 * c + 2 * g;
        const __m256i u = _mm256_or_si256(_mm256_and_si256(q, bytes_of(3)),
                                          _mm256_slli_epi16(_mm256_and_si256(hbits, bytes_of(1)), 2));
        isum = _mm256_add_epi32(isum, dot_scaled(u, load32(q8 + 16 * s), scales[s], scales[s + 1]));
      }
    }
    const __m256i bias = scaled_bsums(y, _mm256_cvtepi8_epi16(load16(reinterpret_cast<const uint8_t*>(scales))));
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(bias, 2));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half(x + offsetof(block_q3_K, d)) * f32(y)), _mm256_cvtepi32_ps(isum), acc);
  }
  return hsum(acc);
}

// Q4_K and Q5_K: per 64 elements, 32 bytes of qs (low nibbles first); Q5_K's
// fifth bits for them are bits 2 j and 2 j + 1 of qh.
template <bool kFifthBit, int kTokens>
QKV_AVX2 void dot_q45_K_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  using Block = std::conditional_t<kFifthBit, block_q5_K, block_q4_K>;
  const uint8_t* x = bytes(w);
  __m256 acc[kTokens];
  float mins[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps(), mins[t] = 0;
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(Block)) {
    uint8_t scales[8], mn[8];
    unpack_scales_mins_k4(x + offsetof(Block, scales), scales, mn);
    const uint8_t* y[kTokens];
    __m256i isum[kTokens];
    for (int t = 0; t < kTokens; ++t)
      y[t] = bytes(a) + t * stride + i * sizeof(block_q8_K), isum[t] = _mm256_setzero_si256();
    __m256i hbits = kFifthBit ? load32(x + offsetof(block_q5_K, qh)) : _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j, hbits = shr<2>(hbits)) {
      const __m256i q = load32(x + offsetof(Block, qs) + 32 * j);
      __m256i lo = _mm256_and_si256(q, bytes_of(0xF)), hi = _mm256_and_si256(shr<4>(q), bytes_of(0xF));
      if constexpr (kFifthBit) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hbits, bytes_of(1)), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(shr<1>(hbits), bytes_of(1)), 4));
      }
      const int s = 2 * j;
      for (int t = 0; t < kTokens; ++t) {
        const uint8_t* q8 = y[t] + offsetof(block_q8_K, qs);
        isum[t] = _mm256_add_epi32(isum[t], dot_scaled(lo, load32(q8 + 64 * j), scales[s], scales[s]));
        isum[t] = _mm256_add_epi32(isum[t], dot_scaled(hi, load32(q8 + 64 * j + 32), scales[s + 1], scales[s + 1]));
      }
    }
    // Each min covers two 16-element activation sums.
    uint64_t mins8;
    std::memcpy(&mins8, mn, 8);
    const __m128i m = _mm_cvtsi64_si128(static_cast<long long>(mins8));
    const __m256i min16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));
    for (int t = 0; t < kTokens; ++t) {
      const float dy = f32(y[t]);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(half(x) * dy), _mm256_cvtepi32_ps(isum[t]), acc[t]);
      mins[t] += half(x + offsetof(Block, dmin)) * dy * static_cast<float>(hsum(scaled_bsums(y[t], min16)));
    }
  }
  for (int t = 0; t < kTokens; ++t) out[t] = hsum(acc[t]) - mins[t];
}

// Q6_K's levels go in unsigned (0..63); the bias of 32 comes off as
// 32 * scale * bsum per sub-block.
template <int kTokens>
QKV_AVX2 void dot_q6_K_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  const uint8_t* x = bytes(w);
  __m256 acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(block_q6_K)) {
    const int8_t* scales = reinterpret_cast<const int8_t*>(x + offsetof(block_q6_K, scales));
    const uint8_t* y[kTokens];
    __m256i isum[kTokens];
    for (int t = 0; t < kTokens; ++t)
      y[t] = bytes(a) + t * stride + i * sizeof(block_q8_K), isum[t] = _mm256_setzero_si256();
    for (int c = 0; c < 2; ++c) {
      const uint8_t* ql = x + offsetof(block_q6_K, ql) + 64 * c;
      const __m256i ql0 = load32(ql), ql1 = load32(ql + 32);
      __m256i qh = load32(x + offsetof(block_q6_K, qh) + 32 * c);
      const __m256i nibbles[4] = {_mm256_and_si256(ql0, bytes_of(0xF)), _mm256_and_si256(ql1, bytes_of(0xF)),
                                  _mm256_and_si256(shr<4>(ql0), bytes_of(0xF)),
                                  _mm256_and_si256(shr<4>(ql1), bytes_of(0xF))};
      for (int g = 0; g < 4; ++g, qh = shr<2>(qh)) {
        const __m256i u = _mm256_or_si256(nibbles[g], _mm256_slli_epi16(_mm256_and_si256(qh, bytes_of(3)), 4));
        const int s = 8 * c + 2 * g;
        for (int t = 0; t < kTokens; ++t)
          isum[t] = _mm256_add_epi32(
              isum[t], dot_scaled(u, load32(y[t] + offsetof(block_q8_K, qs) + 16 * s), scales[s], scales[s + 1]));
      }
    }
    const __m256i scales16 = _mm256_cvtepi8_epi16(load16(x + offsetof(block_q6_K, scales)));
    for (int t = 0; t < kTokens; ++t) {
      const __m256i bias = scaled_bsums(y[t], scales16);
      isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(bias, 5));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(half(x + offsetof(block_q6_K, d)) * f32(y[t])), _mm256_cvtepi32_ps(isum[t]),
                               acc[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) out[t] = hsum(acc[t]);
}

// One row: the kTokens = 1 instance, so single and batched results agree.
template <void (*kMulti)(const void*, const void*, size_t, int64_t, float*)>
QKV_AVX2 float dot_one(const void* w, const void* a, int64_t n) {
  float out;
  kMulti(w, a, 0, n, &out);
  return out;
}

// 1 to kMaxDotTokens rows, by a switch over the compile-time instances.
template <template <int> class K>
QKV_AVX2 void dot_rows(const void* w, const void* a, size_t stride, int n_tokens, int64_t n, float* out) {
  switch (n_tokens) {
    case 1: return K<1>::run(w, a, stride, n, out);
    case 2: return K<2>::run(w, a, stride, n, out);
    case 3: return K<3>::run(w, a, stride, n, out);
    default: return K<4>::run(w, a, stride, n, out);
  }
}
template <typename Block, __m256i (*levels)(const uint8_t*)>
struct Symmetric {
  template <int kT> struct K { static constexpr auto run = dot_symmetric_n<Block, levels, kT>; };
};
template <typename Block, __m256i (*levels)(const uint8_t*)>
struct WithMin {
  template <int kT> struct K { static constexpr auto run = dot_with_min_n<Block, levels, kT>; };
};
template <int kT> struct Q4K { static constexpr auto run = dot_q45_K_n<false, kT>; };
template <int kT> struct Q5K { static constexpr auto run = dot_q45_K_n<true, kT>; };
template <int kT> struct Q6K { static constexpr auto run = dot_q6_K_n<kT>; };

// IQ4_XS: the levels are signed, so the sign moves onto the activations; the
// 6-bit block scale rides on the madd. One float scale per super-block.
QKV_AVX2 float dot_iq4_xs(const void* w, const void* a, int64_t n) {
  const uint8_t *x = bytes(w), *y = bytes(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(block_iq4_xs), y += sizeof(block_q8_K)) {
    __m256i isum = _mm256_setzero_si256();
    for (int ib = 0; ib < QK_K / QK; ++ib) {
      const __m256i v = iq4_levels(x + offsetof(block_iq4_xs, qs) + 16 * ib);
      const __m256i q8 = load32(y + offsetof(block_q8_K, qs) + QK * ib);
      const int scale = iq4_xs_scale(*reinterpret_cast<const block_iq4_xs*>(x), ib) - 32;
      isum = _mm256_add_epi32(isum, dot_scaled(_mm256_sign_epi8(v, v), _mm256_sign_epi8(q8, v), scale, scale));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half(x) * f32(y)), _mm256_cvtepi32_ps(isum), acc);
  }
  return hsum(acc);
}

// ---- 16- and 32-bit floats ------------------------------------------------------

QKV_AVX2 inline __m256 load8_f32(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
QKV_AVX2 inline __m256 load8_f16(const uint8_t* p) { return _mm256_cvtph_ps(load16(p)); }
QKV_AVX2 inline __m256 load8_bf16(const uint8_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load16(p)), 16));
}
inline float scalar_f32(const uint8_t* p) { return f32(p); }
inline float scalar_bf16(const uint8_t* p) { return bf16_to_fp32(static_cast<uint16_t>(p[0] | p[1] << 8)); }

// Four independent accumulators hide the FMA latency; the tail (n not a
// multiple of 32) is summed in scalar code. Weights of kW bytes, activations of kA.
template <int kW, __m256 (*w8)(const uint8_t*), float (*w1)(const uint8_t*), int kA, __m256 (*a8)(const uint8_t*),
          float (*a1)(const uint8_t*)>
QKV_AVX2 float dot_float(const void* w, const void* a, int64_t n) {
  const uint8_t *x = bytes(w), *y = bytes(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(w8(x + kW * (i + 8 * k)), a8(y + kA * (i + 8 * k)), acc[k]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += w1(x + kW * i) * a1(y + kA * i);
  return sum;
}


// The variants, one per weight type (vec_dot_kernels.h).
constexpr int kTokens = 4;
static_assert(kTokens <= kMaxDotTokens);

const VecDotVariant kF32 = {TensorType::F32, "avx2", dot_float<4, load8_f32, scalar_f32, 4, load8_f32, scalar_f32>,
                            nullptr, 1};
const VecDotVariant kF16 = {TensorType::F16, "avx2",
                            dot_float<2, load8_f16, detail::load_half, 4, load8_f32, scalar_f32>, nullptr, 1};
const VecDotVariant kBF16 = {TensorType::BF16, "avx2", dot_float<2, load8_bf16, scalar_bf16, 2, load8_bf16, scalar_bf16>,
                             nullptr, 1};
const VecDotVariant kQ4_0 = {TensorType::Q4_0, "avx2", dot_one<dot_symmetric_n<block_q4_0, levels_q4_0, 1>>,
                             dot_rows<Symmetric<block_q4_0, levels_q4_0>::K>, kTokens};
const VecDotVariant kQ4_1 = {TensorType::Q4_1, "avx2", dot_one<dot_with_min_n<block_q4_1, levels_q4_1, 1>>,
                             dot_rows<WithMin<block_q4_1, levels_q4_1>::K>, kTokens};
const VecDotVariant kQ5_0 = {TensorType::Q5_0, "avx2", dot_one<dot_symmetric_n<block_q5_0, levels_q5_0, 1>>,
                             dot_rows<Symmetric<block_q5_0, levels_q5_0>::K>, kTokens};
const VecDotVariant kQ5_1 = {TensorType::Q5_1, "avx2", dot_one<dot_with_min_n<block_q5_1, levels_q5_1, 1>>,
                             dot_rows<WithMin<block_q5_1, levels_q5_1>::K>, kTokens};
const VecDotVariant kQ8_0 = {TensorType::Q8_0, "avx2", dot_one<dot_symmetric_n<block_q8_0, levels_q8_0, 1>>,
                             dot_rows<Symmetric<block_q8_0, levels_q8_0>::K>, kTokens};
const VecDotVariant kIQ4_NL = {TensorType::IQ4_NL, "avx2", dot_one<dot_symmetric_n<block_iq4_nl, levels_iq4_nl, 1>>,
                               dot_rows<Symmetric<block_iq4_nl, levels_iq4_nl>::K>, kTokens};
const VecDotVariant kQ2_K = {TensorType::Q2_K, "avx2", dot_q2_K, nullptr, 1};
const VecDotVariant kQ3_K = {TensorType::Q3_K, "avx2", dot_q3_K, nullptr, 1};
const VecDotVariant kQ4_K = {TensorType::Q4_K, "avx2", dot_one<dot_q45_K_n<false, 1>>, dot_rows<Q4K>, kTokens};
const VecDotVariant kQ5_K = {TensorType::Q5_K, "avx2", dot_one<dot_q45_K_n<true, 1>>, dot_rows<Q5K>, kTokens};
const VecDotVariant kQ6_K = {TensorType::Q6_K, "avx2", dot_one<dot_q6_K_n<1>>, dot_rows<Q6K>, kTokens};
const VecDotVariant kIQ4_XS = {TensorType::IQ4_XS, "avx2", dot_iq4_xs, nullptr, 1};

}  // namespace qkv::ops::avx2

#endif  // __x86_64__
