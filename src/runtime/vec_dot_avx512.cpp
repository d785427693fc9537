// AVX-512 dot products, chosen at run time. For the quantized types, VNNI in
// 256-bit registers (through AVX512VL): the integer sums of the references in
// vec_dot_ref.cpp, with vpdpbusd / vpdpwssd fusing the multiply and the add
// that AVX2 spends two or three instructions on, and up to kTokensMax = 8
// activation rows per pass over a weight row (more registers than AVX2 has).
//
// 256-bit registers match the 32-byte blocks; 512-bit ones would need a
// shuffle to pair the activations of two blocks. The 16-bit float kernels
// (no blocks) use 512-bit registers.
//
// Per output the float arithmetic does not depend on kTokens: each token has
// its own accumulators, updated in block order. For the types the
// interleaved kernels cover (repack.h), each block's (or super-block's)
// integer total goes into one float, a scalar sequence per row that 16 lanes
// reproduce; IQ4_XS and the 16-bit floats keep lane accumulators summed at
// the end. So a token's result is the same bits in a batch as alone.
#include "runtime/vec_dot_kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns falsely inside its own AVX-512 intrinsic headers (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "qkv/fp16.h"

#if defined(__x86_64__)
#include <algorithm>
#include <array>
#include <cmath>
#include <type_traits>
#include <utility>

#include "runtime/simd_x86.h"
#endif

namespace qkv::ops {

#if defined(__x86_64__)
namespace avx512 {

using namespace x86;

// The kernels index blocks as bytes, with the sizes and field offsets of
// ggml's structs (quant/blocks.h); each block's d is its first field.
constexpr int kTokensMax = 8;

// Byte j is 16 where bit j of the little-endian word at p is set, else 0.
QKV_VNNI inline __m256i fifth_bits(const uint8_t* p) {
  uint32_t word;
  std::memcpy(&word, p, 4);
  return _mm256_maskz_mov_epi8(static_cast<__mmask32>(word), bytes_of(16));
}

QKV_VNNI inline __m256i levels_q5_0(const uint8_t* b) {
  return _mm256_sub_epi8(
      _mm256_or_si256(unpack_nibbles(b + offsetof(block_q5_0, qs)), fifth_bits(b + offsetof(block_q5_0, qh))),
      bytes_of(16));
}

// Signed levels against Q8_0: vpdpbusd takes |w| unsigned and the sign moves
// onto the activations, so the sum of 4 products lands in each int32 lane.
// Per token and block, the integer dot product is totalled and goes into
// float once, a scalar sequence per row: the interleaved kernel
// (repack_avx512.cpp), which holds 16 rows in its lanes, does the same, so
// both give a row the same bits.
template <typename Block, __m256i (*levels)(const uint8_t*), int kTokens>
QKV_VNNI void dot_symmetric_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  const uint8_t* x = bytes(w);
  float acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = 0.0f;
  for (int64_t i = 0; i < n / QK; ++i, x += sizeof(Block)) {
    const __m256i v = levels(x), magnitude = _mm256_abs_epi8(v);
    const float dx = half(x);
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* y = bytes(a) + t * stride + i * sizeof(block_q8_0);
      const __m256i q8 = load32(y + offsetof(block_q8_0, qs));
      const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), magnitude, _mm256_sign_epi8(q8, v));
      acc[t] = std::fma(dx * half(y), static_cast<float>(hsum(sums)), acc[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) out[t] = acc[t];
}

// The int16 scale vector of a pair of 16-element sub-blocks (s, s + 1):
// s in the low 8 lanes, s + 1 in the high 8 (vpermw from all 16 scales).
template <int s>
QKV_VNNI inline __m256i pair_scales(__m256i scales16) {
  return _mm256_permutexvar_epi16(_mm256_set_epi16(s + 1, s + 1, s + 1, s + 1, s + 1, s + 1, s + 1, s + 1, s, s, s, s,
                                                   s, s, s, s),
                                  scales16);
}

// pair_scales of the 8 pairs (2k, 2k + 1) of a super-block's 16 sub-blocks.
QKV_VNNI inline void all_pair_scales(__m256i scales16, __m256i* pairs) {
  pairs[0] = pair_scales<0>(scales16), pairs[1] = pair_scales<2>(scales16);
  pairs[2] = pair_scales<4>(scales16), pairs[3] = pair_scales<6>(scales16);
  pairs[4] = pair_scales<8>(scales16), pairs[5] = pair_scales<10>(scales16);
  pairs[6] = pair_scales<12>(scales16), pairs[7] = pair_scales<14>(scales16);
}

// Q3_K's 16 six-bit scales (biased by 32) as int16 lanes: the low nibbles of
// bytes 0..7 then their high nibbles, and 2 bits of byte 8 + j % 4 at 2 (j / 4).
QKV_VNNI inline __m256i q3_K_scales16(const uint8_t* p) {
  uint8_t bytes12[16] = {};  // the block ends 2 bytes after its 12 scale bytes: do not load past it
  std::memcpy(bytes12, p, 12);
  const __m128i b = load16(bytes12);
  const __m128i low = _mm_and_si128(_mm_unpacklo_epi64(b, _mm_srli_epi16(b, 4)), _mm_set1_epi8(0xF));
  const __m128i top_bytes = _mm_shuffle_epi8(b, _mm_set_epi8(11, 10, 9, 8, 11, 10, 9, 8, 11, 10, 9, 8, 11, 10, 9, 8));
  const __m256i top = _mm256_and_si256(
      _mm256_srlv_epi16(_mm256_cvtepu8_epi16(top_bytes),
                        _mm256_set_epi16(6, 6, 6, 6, 4, 4, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0)),
      _mm256_set1_epi16(3));
  return _mm256_sub_epi16(_mm256_or_si256(_mm256_cvtepu8_epi16(low), _mm256_slli_epi16(top, 4)), _mm256_set1_epi16(32));
}

// Integer sums may be split into independent chains (added at the end, an
// exact result whatever the order): few tokens get more chains to hide the
// latency of vpdpwssd, many tokens have enough independent work already.
template <int kTokens>
inline constexpr int kChains = kTokens <= 2 ? 4 : kTokens <= 4 ? 2 : 1;

QKV_VNNI inline __m256i sum_chains(const __m256i* c, int n) {
  __m256i s = c[0];
  for (int k = 1; k < n; ++k) s = _mm256_add_epi32(s, c[k]);
  return s;
}

// Q4_K and Q5_K: per 64 elements, 32 bytes of qs (low nibbles first); Q5_K's
// fifth bits for them are bits 2 j and 2 j + 1 of qh. Levels times
// activations pair up into int16 (maddubs), and vpdpwssd applies the
// sub-block's scale while adding into int32. The mins come off through the
// activations' 16-element sums. Per token and super-block, the two integer
// sums are totalled and go into float once each, a scalar sequence per row:
// the interleaved kernel (repack_avx512.cpp), which holds 16 rows in its
// lanes, does exactly the same, so both give a row the same bits.
template <bool kFifthBit, int kTokens>
QKV_VNNI void dot_q45_K_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  using Block = std::conditional_t<kFifthBit, block_q5_K, block_q4_K>;
  const uint8_t* x = bytes(w);
  float acc[kTokens], acc_min[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = acc_min[t] = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(Block)) {
    uint8_t scales[8], mn[8];
    unpack_scales_mins_k4(x + offsetof(Block, scales), scales, mn);
    const uint8_t* y = bytes(a) + i * sizeof(block_q8_K);
    constexpr int C = kChains<kTokens>;
    __m256i isum[kTokens][C];
    for (int t = 0; t < kTokens; ++t)
      for (int c = 0; c < C; ++c) isum[t][c] = _mm256_setzero_si256();
    __m256i hbits = kFifthBit ? load32(x + offsetof(block_q5_K, qh)) : _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j, hbits = shr<2>(hbits)) {
      const __m256i q = load32(x + offsetof(Block, qs) + 32 * j);
      __m256i lo = _mm256_and_si256(q, bytes_of(0xF)), hi = _mm256_and_si256(shr<4>(q), bytes_of(0xF));
      if constexpr (kFifthBit) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hbits, bytes_of(1)), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(shr<1>(hbits), bytes_of(1)), 4));
      }
      const __m256i scale_lo = _mm256_set1_epi16(scales[2 * j]), scale_hi = _mm256_set1_epi16(scales[2 * j + 1]);
      for (int t = 0; t < kTokens; ++t) {
        const uint8_t* q8 = y + t * stride + offsetof(block_q8_K, qs) + 64 * j;
        __m256i& c0 = isum[t][(2 * j) % C];
        __m256i& c1 = isum[t][(2 * j + 1) % C];
        c0 = _mm256_dpwssd_epi32(c0, _mm256_maddubs_epi16(lo, load32(q8)), scale_lo);
        c1 = _mm256_dpwssd_epi32(c1, _mm256_maddubs_epi16(hi, load32(q8 + 32)), scale_hi);
      }
    }
    // Each min covers two 16-element activation sums.
    uint64_t mins8;
    std::memcpy(&mins8, mn, 8);
    const __m128i m = _mm_cvtsi64_si128(static_cast<long long>(mins8));
    const __m256i min16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));
    const float d = half(x), dmin = half(x + offsetof(Block, dmin));
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* yt = y + t * stride;
      const float dy = f32(yt);
      const int mins = hsum(_mm256_madd_epi16(load32(yt + offsetof(block_q8_K, bsums)), min16));
      acc[t] = std::fma(d * dy, static_cast<float>(hsum(sum_chains(isum[t], C))), acc[t]);
      acc_min[t] = std::fma(dmin * dy, static_cast<float>(mins), acc_min[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) out[t] = acc[t] - acc_min[t];
}

// Q6_K's levels go in unsigned (0..63); the bias of 32 comes off as
// 32 * scale * bsum per 16 elements, inside the integer sum. As for Q4_K,
// each super-block's total goes into float once (the interleaved kernel's order).
template <int kTokens>
QKV_VNNI void dot_q6_K_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  const uint8_t* x = bytes(w);
  float acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(block_q6_K)) {
    const uint8_t* y = bytes(a) + i * sizeof(block_q8_K);
    constexpr int C = kChains<kTokens>;
    __m256i isum[kTokens][C];
    const __m256i scales16 = _mm256_cvtepi8_epi16(load16(x + offsetof(block_q6_K, scales)));
    __m256i pairs[8];
    all_pair_scales(scales16, pairs);
    // -32 * sum over 16-element groups of scale * bsum, as the first chain's starting value.
    for (int t = 0; t < kTokens; ++t) {
      const __m256i bsums = load32(y + t * stride + offsetof(block_q8_K, bsums));
      isum[t][0] = _mm256_slli_epi32(_mm256_madd_epi16(bsums, _mm256_sub_epi16(_mm256_setzero_si256(), scales16)), 5);
      for (int c = 1; c < C; ++c) isum[t][c] = _mm256_setzero_si256();
    }
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
        const __m256i sc = pairs[s / 2];
        for (int t = 0; t < kTokens; ++t) {
          __m256i& chain = isum[t][(4 * c + g) % C];
          const __m256i q8 = load32(y + t * stride + offsetof(block_q8_K, qs) + 16 * s);
          chain = _mm256_dpwssd_epi32(chain, _mm256_maddubs_epi16(u, q8), sc);
        }
      }
    }
    const float d = half(x + offsetof(block_q6_K, d));
    for (int t = 0; t < kTokens; ++t)
      acc[t] = std::fma(d * f32(y + t * stride), static_cast<float>(hsum(sum_chains(isum[t], C))), acc[t]);
  }
  for (int t = 0; t < kTokens; ++t) out[t] = acc[t];
}

// Q2_K: 2-bit levels, a 4-bit scale and a 4-bit min per 16 elements; the
// mins come off through the activations' 16-element sums. As for Q4_K, each
// super-block's two totals go into float once (the interleaved kernel's order).
template <int kTokens>
QKV_VNNI void dot_q2_K_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  const uint8_t* x = bytes(w);
  float acc[kTokens], acc_min[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = acc_min[t] = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(block_q2_K)) {
    const uint8_t* sc = x + offsetof(block_q2_K, scales);
    const uint8_t* y = bytes(a) + i * sizeof(block_q8_K);
    constexpr int C = kChains<kTokens>;
    __m256i isum[kTokens][C];
    for (int t = 0; t < kTokens; ++t)
      for (int c = 0; c < C; ++c) isum[t][c] = _mm256_setzero_si256();
    const __m256i scales16 = _mm256_cvtepu8_epi16(_mm_and_si128(load16(sc), _mm_set1_epi8(0xF)));
    __m256i pairs[8];
    all_pair_scales(scales16, pairs);
    for (int c = 0; c < 2; ++c) {
      __m256i q = load32(x + offsetof(block_q2_K, qs) + 32 * c);
      for (int g = 0; g < 4; ++g, q = shr<2>(q)) {
        const int s = 8 * c + 2 * g;  // first of the group's two sub-blocks
        const __m256i u = _mm256_and_si256(q, bytes_of(3));
        for (int t = 0; t < kTokens; ++t) {
          __m256i& chain = isum[t][(4 * c + g) % C];
          const __m256i q8 = load32(y + t * stride + offsetof(block_q8_K, qs) + 16 * s);
          chain = _mm256_dpwssd_epi32(chain, _mm256_maddubs_epi16(u, q8), pairs[s / 2]);
        }
      }
    }
    const __m256i min16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(load16(sc), 4), _mm_set1_epi8(0xF)));
    const float d = half(x + offsetof(block_q2_K, d)), dmin = half(x + offsetof(block_q2_K, dmin));
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* yt = y + t * stride;
      const float dy = f32(yt);
      const int mins = hsum(_mm256_madd_epi16(load32(yt + offsetof(block_q8_K, bsums)), min16));
      acc[t] = std::fma(d * dy, static_cast<float>(hsum(sum_chains(isum[t], C))), acc[t]);
      acc_min[t] = std::fma(dmin * dy, static_cast<float>(mins), acc_min[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) out[t] = acc[t] - acc_min[t];
}

// Q3_K's levels go in unsigned (q + 4 * hbit, 0..7); the bias of 4 comes off
// as 4 * scale * bsum per 16 elements, the first chain's starting value; each
// super-block's total goes into float once (the interleaved kernel's order).
template <int kTokens>
QKV_VNNI void dot_q3_K_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  const uint8_t* x = bytes(w);
  float acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(block_q3_K)) {
    const uint8_t* y = bytes(a) + i * sizeof(block_q8_K);
    const __m256i scales16 = q3_K_scales16(x + offsetof(block_q3_K, scales));
    __m256i pairs[8];
    all_pair_scales(scales16, pairs);
    constexpr int C = kChains<kTokens>;
    __m256i isum[kTokens][C];
    for (int t = 0; t < kTokens; ++t) {
      const __m256i bsums = load32(y + t * stride + offsetof(block_q8_K, bsums));
      isum[t][0] = _mm256_slli_epi32(_mm256_madd_epi16(bsums, _mm256_sub_epi16(_mm256_setzero_si256(), scales16)), 2);
      for (int c = 1; c < C; ++c) isum[t][c] = _mm256_setzero_si256();
    }
    __m256i hbits = load32(x + offsetof(block_q3_K, hmask));
    for (int c = 0; c < 2; ++c) {
      __m256i q = load32(x + offsetof(block_q3_K, qs) + 32 * c);
      for (int g = 0; g < 4; ++g, q = shr<2>(q), hbits = shr<1>(hbits)) {
        const int s = 8 * c + 2 * g;
        const __m256i u = _mm256_or_si256(_mm256_and_si256(q, bytes_of(3)),
                                          _mm256_slli_epi16(_mm256_and_si256(hbits, bytes_of(1)), 2));
        for (int t = 0; t < kTokens; ++t) {
          __m256i& chain = isum[t][(4 * c + g) % C];
          const __m256i q8 = load32(y + t * stride + offsetof(block_q8_K, qs) + 16 * s);
          chain = _mm256_dpwssd_epi32(chain, _mm256_maddubs_epi16(u, q8), pairs[s / 2]);
        }
      }
    }
    const float d = half(x + offsetof(block_q3_K, d));
    for (int t = 0; t < kTokens; ++t)
      acc[t] = std::fma(d * f32(y + t * stride), static_cast<float>(hsum(sum_chains(isum[t], C))), acc[t]);
  }
  for (int t = 0; t < kTokens; ++t) out[t] = acc[t];
}

// IQ4_XS: signed levels, so |w| goes in unsigned and the sign onto the
// activations; the 6-bit block scale rides on vpdpwssd.
template <int kTokens>
QKV_VNNI void dot_iq4_xs_n(const void* w, const void* a, size_t stride, int64_t n, float* out) {
  const uint8_t* x = bytes(w);
  __m256 acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i, x += sizeof(block_iq4_xs)) {
    const uint8_t* y = bytes(a) + i * sizeof(block_q8_K);
    constexpr int C = kChains<kTokens>;
    __m256i isum[kTokens][C];
    for (int t = 0; t < kTokens; ++t)
      for (int c = 0; c < C; ++c) isum[t][c] = _mm256_setzero_si256();
    for (int ib = 0; ib < QK_K / QK; ++ib) {
      const __m256i v = iq4_levels(x + offsetof(block_iq4_xs, qs) + 16 * ib);
      const __m256i magnitude = _mm256_abs_epi8(v);
      const int ls = iq4_xs_scale(*reinterpret_cast<const block_iq4_xs*>(x), ib);
      const __m256i scale = _mm256_set1_epi16(static_cast<short>(ls - 32));
      for (int t = 0; t < kTokens; ++t) {
        __m256i& chain = isum[t][ib % C];
        const __m256i q8 = _mm256_sign_epi8(load32(y + t * stride + offsetof(block_q8_K, qs) + QK * ib), v);
        chain = _mm256_dpwssd_epi32(chain, _mm256_maddubs_epi16(magnitude, q8), scale);
      }
    }
    const float d = half(x);
    for (int t = 0; t < kTokens; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * f32(y + t * stride)), _mm256_cvtepi32_ps(sum_chains(isum[t], C)),
                               acc[t]);
  }
  for (int t = 0; t < kTokens; ++t) out[t] = hsum(acc[t]);
}

// ---- 16-bit floats, in 512-bit registers ---------------------------------------
// A tile of kRows weight rows against kTokens tokens, as llamafile's tinyBLAS
// tiles a float GEMM: each weight vector loaded feeds kTokens FMAs and each
// activation vector kRows, so a tile of 8 x 3 does 24 FMAs per 11 loads.
// Every (row, token) has one accumulator of 16 lanes, summed at the end, and
// the tail past the last whole vector is added in scalar code: so the bits of
// an output do not depend on the tile it was computed in. fp16 weights are
// widened exactly (vcvtph2ps; the activations come widened); bf16 pairs go through vdpbf16ps, whose products are
// exact and whose adds round to nearest (with denormals flushed, as
// llama.cpp's BF16 path on these CPUs does).

#define QKV_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define QKV_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))

// Tile shapes (the largest tile of each type is in its struct below), as
// measured on an AMD EPYC (Zen 4): F16 8 rows x 3 tokens (24 accumulators, 8
// widened weight vectors and one activation vector: 33 of the 32 registers,
// one reloaded; 4 x 6 ran its prompts 0.6x there, and halved its generation on
// a Xeon); BF16 4 rows x 6 tokens, whose activations are half the size (1.2x
// prompts, 1.3-1.6x generation over 8 x 3 on the EPYC). The rows of a tile are
// also the rows interleaved side by side (repack.h).

QKV_AVX512 inline __m512 load16_f16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// y[t * ldy + r] for r < kRows, t < kTokens; chunk c of row r (16 values) at
// w + r * row_step + c * chunk_step (vec_dot.h).
template <int kRows, int kTokens>
QKV_AVX512 void dot_f16_tile(const void* w, size_t row_step, size_t chunk_step, const void* a, size_t stride, int64_t n,
                             float* y, size_t ldy) {
  __m512 acc[kRows][kTokens];
  for (int r = 0; r < kRows; ++r)
    for (int t = 0; t < kTokens; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  const uint8_t* chunk = bytes(w);
  for (; i + 16 <= n; i += 16, chunk += chunk_step) {
    __m512 wv[kRows];
    for (int r = 0; r < kRows; ++r) wv[r] = load16_f16(chunk + r * row_step);
    for (int t = 0; t < kTokens; ++t) {  // activations: fp16 values already widened (ActType::F16)
      const __m512 av = _mm512_loadu_ps(bytes(a) + t * stride + 4 * i);
      for (int r = 0; r < kRows; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], av, acc[r][t]);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* tail = chunk + r * row_step;  // a plain row's values past its last chunk
      const float* v = reinterpret_cast<const float*>(bytes(a) + t * stride);
      float sum = _mm512_reduce_add_ps(acc[r][t]);
      for (int64_t k = i; k < n; ++k) sum += detail::load_half(tail + 2 * (k - i)) * v[k];
      y[t * ldy + r] = sum;
    }
}

inline float bf16_at(const uint8_t* p) { return bf16_to_fp32(static_cast<uint16_t>(p[0] | p[1] << 8)); }

template <int kRows, int kTokens>
QKV_AVX512_BF16 void dot_bf16_tile(const void* w, size_t row_step, size_t chunk_step, const void* a, size_t stride,
                                   int64_t n, float* y, size_t ldy) {
  __m512 acc[kRows][kTokens];
  for (int r = 0; r < kRows; ++r)
    for (int t = 0; t < kTokens; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  const uint8_t* chunk = bytes(w);
  for (; i + 32 <= n; i += 32, chunk += chunk_step) {
    __m512bh wv[kRows];
    for (int r = 0; r < kRows; ++r) wv[r] = (__m512bh)_mm512_loadu_si512(chunk + r * row_step);
    for (int t = 0; t < kTokens; ++t) {
      const __m512bh av = (__m512bh)_mm512_loadu_si512(bytes(a) + t * stride + 2 * i);
      for (int r = 0; r < kRows; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], av);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t *tail = chunk + r * row_step, *v = bytes(a) + t * stride;
      float sum = _mm512_reduce_add_ps(acc[r][t]);
      for (int64_t k = i; k < n; ++k) sum += bf16_at(tail + 2 * (k - i)) * bf16_at(v + 2 * k);
      y[t * ldy + r] = sum;
    }
}

using FloatTileFn = void (*)(const void*, size_t, size_t, const void*, size_t, int64_t, float*, size_t);

// Every tile size up to K's kRows x kTokens, indexed by (rows - 1) * kTokens + tokens - 1.
template <template <int, int> class K, int... I>
constexpr std::array<FloatTileFn, sizeof...(I)> float_tiles(std::integer_sequence<int, I...>) {
  constexpr int kT = K<1, 1>::kTokens;
  return {K<I / kT + 1, I % kT + 1>::run...};
}
template <template <int, int> class K>
void dot_float_tile(const void* w, size_t row_step, size_t chunk_step, const void* a, size_t stride, int n_rows,
                    int n_tokens, int64_t n, float* y, size_t ldy) {
  using Shape = K<1, 1>;
  static constexpr auto kTiles = float_tiles<K>(std::make_integer_sequence<int, Shape::kRows * Shape::kTokens>{});
  kTiles[size_t((n_rows - 1) * Shape::kTokens + n_tokens - 1)](w, row_step, chunk_step, a, stride, n, y, ldy);
}
template <template <int, int> class K>
float dot_one_f(const void* w, const void* a, int64_t n) {
  float out;
  K<1, 1>::run(w, 0, 2 * K<1, 1>::kChunk, a, 0, n, &out, 1);
  return out;
}
template <template <int, int> class K>
void dot_rows_f(const void* w, const void* a, size_t stride, int n_tokens, int64_t n, float* out) {
  constexpr int kT = K<1, 1>::kTokens;
  for (int t = 0; t < n_tokens; t += kT) {
    const int nt = std::min(kT, n_tokens - t);
    dot_float_tile<K>(w, 0, 2 * K<1, 1>::kChunk, bytes(a) + t * stride, stride, 1, nt, n, out + t, 1);
  }
}
// kChunk: values per chunk of a row; kRows x kTokens: the largest tile.
template <int kR, int kT> struct F16 {
  static constexpr auto run = dot_f16_tile<kR, kT>;
  static constexpr int kChunk = 16, kRows = 8, kTokens = 3;
};
template <int kR, int kT> struct BF16 {
  static constexpr auto run = dot_bf16_tile<kR, kT>;
  static constexpr int kChunk = 32, kRows = 4, kTokens = 6;
};
template <TensorType kType, template <int, int> class K>
constexpr VecDotVariant float_variant(const char* isa) {
  using S = K<1, 1>;
  return {kType, isa, dot_one_f<K>, dot_rows_f<K>, kMaxDotTokens, dot_float_tile<K>, S::kRows, S::kTokens, S::kChunk};
}

const VecDotVariant kF16 = float_variant<TensorType::F16, F16>("avx512");
const VecDotVariant kBF16 = float_variant<TensorType::BF16, BF16>("avx512_bf16");

#undef QKV_AVX512
#undef QKV_AVX512_BF16

template <void (*kMulti)(const void*, const void*, size_t, int64_t, float*)>
QKV_VNNI float dot_one(const void* w, const void* a, int64_t n) {
  float out;
  kMulti(w, a, 0, n, &out);
  return out;
}

template <template <int> class K>
QKV_VNNI void dot_rows(const void* w, const void* a, size_t stride, int n_tokens, int64_t n, float* out) {
  switch (n_tokens) {
    case 1: return K<1>::run(w, a, stride, n, out);
    case 2: return K<2>::run(w, a, stride, n, out);
    case 3: return K<3>::run(w, a, stride, n, out);
    case 4: return K<4>::run(w, a, stride, n, out);
    case 5: return K<5>::run(w, a, stride, n, out);
    case 6: return K<6>::run(w, a, stride, n, out);
    case 7: return K<7>::run(w, a, stride, n, out);
    default: return K<8>::run(w, a, stride, n, out);
  }
}
template <typename Block, __m256i (*levels)(const uint8_t*)>
struct Symmetric {
  template <int kT> struct K { static constexpr auto run = dot_symmetric_n<Block, levels, kT>; };
};
template <int kT> struct Q4K { static constexpr auto run = dot_q45_K_n<false, kT>; };
template <int kT> struct Q5K { static constexpr auto run = dot_q45_K_n<true, kT>; };
template <int kT> struct Q6K { static constexpr auto run = dot_q6_K_n<kT>; };
template <int kT> struct Q2K { static constexpr auto run = dot_q2_K_n<kT>; };
template <int kT> struct Q3K { static constexpr auto run = dot_q3_K_n<kT>; };
template <int kT> struct IQ4XS { static constexpr auto run = dot_iq4_xs_n<kT>; };

// The variants of the quantized types (vec_dot_kernels.h); kF16 and kBF16 are above.
const VecDotVariant kQ4_0 = {TensorType::Q4_0, "avx512_vnni", dot_one<dot_symmetric_n<block_q4_0, levels_q4_0, 1>>,
                             dot_rows<Symmetric<block_q4_0, levels_q4_0>::K>, kTokensMax};
const VecDotVariant kQ5_0 = {TensorType::Q5_0, "avx512_vnni", dot_one<dot_symmetric_n<block_q5_0, levels_q5_0, 1>>,
                             dot_rows<Symmetric<block_q5_0, levels_q5_0>::K>, kTokensMax};
const VecDotVariant kQ8_0 = {TensorType::Q8_0, "avx512_vnni", dot_one<dot_symmetric_n<block_q8_0, levels_q8_0, 1>>,
                             dot_rows<Symmetric<block_q8_0, levels_q8_0>::K>, kTokensMax};
const VecDotVariant kIQ4_NL = {TensorType::IQ4_NL, "avx512_vnni",
                               dot_one<dot_symmetric_n<block_iq4_nl, levels_iq4_nl, 1>>,
                               dot_rows<Symmetric<block_iq4_nl, levels_iq4_nl>::K>, kTokensMax};
const VecDotVariant kQ4_K = {TensorType::Q4_K, "avx512_vnni", dot_one<dot_q45_K_n<false, 1>>, dot_rows<Q4K>,
                             kTokensMax};
const VecDotVariant kQ5_K = {TensorType::Q5_K, "avx512_vnni", dot_one<dot_q45_K_n<true, 1>>, dot_rows<Q5K>,
                             kTokensMax};
const VecDotVariant kQ6_K = {TensorType::Q6_K, "avx512_vnni", dot_one<dot_q6_K_n<1>>, dot_rows<Q6K>, kTokensMax};
const VecDotVariant kQ2_K = {TensorType::Q2_K, "avx512_vnni", dot_one<dot_q2_K_n<1>>, dot_rows<Q2K>, kTokensMax};
const VecDotVariant kQ3_K = {TensorType::Q3_K, "avx512_vnni", dot_one<dot_q3_K_n<1>>, dot_rows<Q3K>, kTokensMax};
const VecDotVariant kIQ4_XS = {TensorType::IQ4_XS, "avx512_vnni", dot_one<dot_iq4_xs_n<1>>, dot_rows<IQ4XS>,
                               kTokensMax};
static_assert(kTokensMax <= kMaxDotTokens);

}  // namespace avx512

#endif  // __x86_64__

}  // namespace qkv::ops
