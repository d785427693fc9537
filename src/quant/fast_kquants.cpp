// Fast Q2_K, Q3_K, Q4_K, Q5_K and Q6_K, bit-identical to kquants_ref.cpp (see
// there for the formats and the algorithms).
//
// Nearly all the time goes into the per-sub-block scale searches, whose
// running sums depend on their order. They run one sub-block per lane
// (quant/simd.h): the 16 sub-blocks of 16 of one super-block, or the 8
// sub-blocks of 32 of each of two (Q4_K, Q5_K). What follows per super-block
// is scalar and small next to the searches: rounding the sub-scales against
// one fp16 scale (a copy of the reference's code), make_qp_quants over them
// and the packing of the sub-scales (shared with it: quant/ref_common.h,
// quant/blocks.h). The requantization against the stored scales is lane-wise
// again, and the packing of the levels works on bytes.
//
// Dequantization is vectorised within each sub-block.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "quant/blocks.h"
#include "quant/fast.h"
#include "quant/ref.h"
#include "quant/ref_common.h"
#include "quant/simd.h"

namespace qkv::quant {
namespace {

#if defined(__x86_64__)
using namespace simd;
using detail::kGroupMaxEps;
using detail::make_qp_quants;
using detail::nearest_int;
using detail::store_half;
using detail::SubScales;
using detail::sum_squares;

// ---- packing 256 levels (one byte each, element order) ------------------------------

QKV_AVX2_INLINE __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
QKV_AVX2_INLINE void store32(uint8_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
// Byte-wise shifts of levels small enough that no bit crosses into the neighbouring byte.
QKV_AVX2_INLINE __m256i shl_bytes(__m256i v, int s) { return _mm256_slli_epi16(v, s); }
QKV_AVX2_INLINE __m256i shr_bytes(__m256i v, int s, int mask) {
  return _mm256_and_si256(_mm256_srli_epi16(v, s), _mm256_set1_epi8(static_cast<char>(mask)));
}

// Levels in 0..3: byte l of each 32-byte group holds elements l, l+32, l+64,
// l+96 of its 128 in bits 0-1, 2-3, 4-5, 6-7.
QKV_AVX2 void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int h = 0; h < QK_K; h += 128) {
    const __m256i v =
        _mm256_or_si256(_mm256_or_si256(load32(L + h), shl_bytes(load32(L + h + 32), 2)),
                        _mm256_or_si256(shl_bytes(load32(L + h + 64), 4), shl_bytes(load32(L + h + 96), 6)));
    store32(qs + h / 4, v);
  }
}
// Levels in 0..31: byte l of each 32-byte group holds the low nibbles of
// elements l and l+32 of its 64.
QKV_AVX2 void pack_4bit(const uint8_t* L, uint8_t* qs) {
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  for (int g = 0; g < QK_K; g += 64)
    store32(qs + g / 2, _mm256_or_si256(_mm256_and_si256(load32(L + g), nibble),
                                        shl_bytes(_mm256_and_si256(load32(L + g + 32), nibble), 4)));
}
// Bit e/32 of bits[e % 32] set where level e exceeds `above` (levels < 128).
QKV_AVX2 void high_bits(const uint8_t* L, int above, uint8_t* bits) {
  __m256i acc = _mm256_setzero_si256();
  for (int k = 0; k < 8; ++k) {
    const __m256i high = _mm256_cmpgt_epi8(load32(L + 32 * k), _mm256_set1_epi8(static_cast<char>(above)));
    acc = _mm256_or_si256(acc, _mm256_and_si256(high, _mm256_set1_epi8(static_cast<char>(1 << k))));
  }
  store32(bits, acc);
}

// ---- lane-wise pieces ---------------------------------------------------------------

// kquants_ref.cpp's importance_weights and sum, for 16 sub-blocks of n;
// sigma2 per lane.
QKV_AVX2_INLINE Vf importance_weights(const Vf* x, const Vf* qw, Vf sigma2, int n, Vf* w) {
  Vf sum_w = splat(0.f);
  for (int i = 0; i < n; ++i) {
    w[i] = qw[i] * sqrt(sigma2 + x[i] * x[i]);
    sum_w = sum_w + w[i];
  }
  return sum_w;
}

// kquants_ref.cpp's requantize_asymmetric / requantize_symmetric for 16
// sub-blocks, in the lanes where the stored scale d is non-zero (elsewhere
// the reference keeps the search's levels).
QKV_AVX2_INLINE void requantize_asymmetric(const Vf* x, int n, Vf d, Vf dm, int nmax, Vi* L) {
  const Mask nonzero = d != splat(0.f);
  for (int i = 0; i < n; ++i) L[i] = select(nonzero, clamp(nearest_int((x[i] + dm) / d), 0, nmax), L[i]);
}
QKV_AVX2_INLINE void requantize_symmetric(const Vf* x, int n, Vf d, int nmax, Vi* L) {
  const Mask nonzero = d != splat(0.f);
  for (int i = 0; i < n; ++i)
    L[i] = select(nonzero, clamp(nearest_int(x[i] / d), -nmax, nmax - 1) + splat_i(nmax), L[i]);
}

// kquants_ref.cpp's make_q3_quants for 16 sub-blocks of 16 (nmax = 4). A lane
// whose pass changed nothing would change nothing in a further pass either,
// so running passes until no lane changes is what the reference does per lane.
QKV_AVX2_INLINE Vf make_q3_quants(const Vf* x, Vi* L) {
  constexpr int n = 16, nmax = 4;
  Vf max = splat(0.f), amax = splat(0.f);
  for (int i = 0; i < n; ++i) {
    const Mask bigger = abs(x[i]) > amax;
    amax = select(bigger, abs(x[i]), amax);
    max = select(bigger, x[i], max);
  }
  const Mask zero_group = amax < splat(kGroupMaxEps);
  const Vf iscale = splat(static_cast<float>(-nmax)) / max;
  Vf w[n], wx[n], l[n];  // x^2, x^3 and the current levels (as floats, exact)
  Vf sumlx = splat(0.f), suml2 = splat(0.f);
  for (int i = 0; i < n; ++i) {
    w[i] = x[i] * x[i];
    wx[i] = w[i] * x[i];
    l[i] = to_float(clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
    sumlx = sumlx + wx[i] * l[i];
    suml2 = suml2 + w[i] * l[i] * l[i];
  }
  for (int pass = 0; pass < 5; ++pass) {
    Mask changed = none_set();
    for (int i = 0; i < n; ++i) {
      Vf slx = sumlx - wx[i] * l[i];  // the sums without element i
      Vf sl2 = suml2 - w[i] * l[i] * l[i];
      const Mask positive = slx > splat(0.f);
      const Vf new_l = to_float(clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1));
      slx = slx + wx[i] * new_l;
      sl2 = sl2 + w[i] * new_l * new_l;
      const Mask accept = positive & (new_l != l[i]) & (sl2 > splat(0.f)) & (slx * slx * suml2 > sumlx * sumlx * sl2);
      // Mostly no lane changes. Branching then, rather than always selecting,
      // lets the next element's step start before this one's long chain of
      // dependent operations is done.
      if (!any(accept)) continue;
      l[i] = select(accept, new_l, l[i]);
      sumlx = select(accept, slx, sumlx);
      suml2 = select(accept, sl2, suml2);
      changed = changed | accept;
    }
    if (!any(changed)) break;
  }
  for (int i = 0; i < n; ++i) L[i] = select(zero_group, splat_i(0), trunc_to_int(l[i]) + splat_i(nmax));
  return select(zero_group, splat(0.f), select(suml2 > splat(0.f), sumlx / suml2, splat(0.f)));
}

// ---- Q2_K -------------------------------------------------------------------------

// One super-block: its 16 sub-blocks are the 16 lanes.
QKV_AVX2 void quantize_q2K_block(const float* x, const float* qw, uint8_t* y) {
  auto& blk = *reinterpret_cast<block_q2_K*>(y);
  Vf xv[16], w[16], min;
  Vi L[16];
  alignas(32) float scales[16], mins[16], sw[16];
  load_blocks(x, 16, 16, xv);
  if (qw) {
    Vf q[16];
    load_blocks(qw, 16, 16, q);
    store(sw, importance_weights(xv, q, splat(sum_squares(x, QK_K) / QK_K), 16, w));
    store(scales, make_qkx_quants(16, 3, xv, w, L, &min, kQkx3Search));
  } else {
    for (int i = 0; i < 16; ++i) w[i] = abs(xv[i]);
    store(scales, make_qkx_quants(16, 3, xv, w, L, &min, {-0.5f, 0.1f, 15, true}));
  }
  store(mins, min);
  uint8_t* sc = blk.scales;
  if (qw) {
    uint8_t Ls[16], Lm[16];
    store_half(blk.d, make_qp_quants(16, 15, scales, Ls, sw));
    store_half(blk.dmin, make_qp_quants(16, 15, mins, Lm, sw));
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  } else {
    constexpr float kMaxSub = 15.f;
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    std::memset(sc, 0, 16);
    if (max_scale > 0) {
      const float iscale = kMaxSub / max_scale;
      for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    }
    store_half(blk.d, max_scale > 0 ? max_scale / kMaxSub : 0.f);
    if (max_min > 0) {
      const float iscale = kMaxSub / max_min;
      for (int j = 0; j < 16; ++j) sc[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
    }
    store_half(blk.dmin, max_min > 0 ? max_min / kMaxSub : 0.f);
  }
  // Requantize against the stored scales.
  const float d = load_half(blk.d), dmin = load_half(blk.dmin);
  alignas(32) float dl[16], ml[16];
  for (int j = 0; j < 16; ++j) {
    dl[j] = d * (sc[j] & 0xF);
    ml[j] = dmin * (sc[j] >> 4);
  }
  requantize_asymmetric(xv, 16, load(dl), load(ml), 3, L);
  uint8_t levels[QK_K];
  store_lanes_u8(L, 16, levels, 16);
  pack_2bit(levels, blk.qs);
}

// ---- Q3_K -------------------------------------------------------------------------

// One super-block: its 16 sub-blocks are the 16 lanes.
QKV_AVX2 void quantize_q3K_block(const float* x, const float* qw, uint8_t* y) {
  auto& blk = *reinterpret_cast<block_q3_K*>(y);
  Vf xv[16];
  Vi L[16];
  alignas(32) float scales[16];
  load_blocks(x, 16, 16, xv);
  int8_t ls[16] = {};  // the 6-bit sub-scales, stored + 32
  float d = 0.f;
  if (qw) {  // kquants_ref.cpp's quantize_block_q3K_weighted
    Vf q[16], w[16];
    alignas(32) float sw[16];
    load_blocks(qw, 16, 16, q);
    store(sw, importance_weights(xv, q, splat(2 * sum_squares(x, QK_K) / QK_K), 16, w));
    store(scales, make_qx_quants(16, 4, xv, w, L));
    d = detail::make_qx_quants(16, 32, scales, ls, sw);
  } else {  // kquants_ref.cpp's quantize_block_q3K
    store(scales, make_q3_quants(xv, L));
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j)
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const auto l = static_cast<int8_t>(nearest_int(iscale * scales[j]));  // ggml narrows before clamping
        ls[j] = static_cast<int8_t>(std::clamp<int>(l, -32, 31) + 32);
      }
      d = 1 / iscale;
    }
  }
  pack_scales_q3_K(ls, blk.scales);
  store_half(blk.d, d);
  // Requantize against the stored scales, then split each level in [0, 8)
  // into its third bit (hmask) and two low bits.
  const float d_all = load_half(blk.d);
  int8_t stored[16];
  unpack_scales_q3_K(blk.scales, stored);
  alignas(32) float dl[16];
  for (int j = 0; j < 16; ++j) dl[j] = d_all * stored[j];
  requantize_symmetric(xv, 16, load(dl), 4, L);
  uint8_t levels[QK_K];
  store_lanes_u8(L, 16, levels, 16);
  high_bits(levels, 3, blk.hmask);
  for (int k = 0; k < QK_K; k += 32) store32(levels + k, _mm256_and_si256(load32(levels + k), _mm256_set1_epi8(3)));
  pack_2bit(levels, blk.qs);
}

// ---- Q4_K and Q5_K ----------------------------------------------------------------

// Two super-blocks: their 8 + 8 sub-blocks are the 16 lanes.
template <bool kQ5>
QKV_AVX2 void quantize_k4_pair(const float* x, const float* qw, uint8_t* y) {
  using Block = std::conditional_t<kQ5, block_q5_K, block_q4_K>;
  constexpr int nmax = kQ5 ? 31 : 15;
  Vf xv[32], w[32], min;
  Vi L[32];
  load_blocks(x, 32, 32, xv);
  alignas(32) float scales[16], mins[16], sw[16];
  SubScales s[2]{};
  if (qw) {  // kquants_ref.cpp's search_k4_weighted
    const float sigma2[2] = {2 * sum_squares(x, QK_K) / QK_K, 2 * sum_squares(x + QK_K, QK_K) / QK_K};
    Vf q[32];
    load_blocks(qw, 32, 32, q);
    store(sw, importance_weights(xv, q, splat_halves(sigma2[0], sigma2[1]), 32, w));
    store(scales, make_qkx_quants(32, nmax, xv, w, L, &min, kQkx3Search));
    store(mins, min);
    for (int b = 0; b < 2; ++b) {
      s[b].d = make_qp_quants(8, 63, scales + 8 * b, s[b].ls, sw + 8 * b);
      s[b].dmin = make_qp_quants(8, 63, mins + 8 * b, s[b].lm, sw + 8 * b);
      if (kQ5)  // ggml's q5_K_impl clamps here (q4_K_impl does not)
        for (int j = 0; j < 8; ++j) {
          s[b].ls[j] = std::min<uint8_t>(63, s[b].ls[j]);
          s[b].lm[j] = std::min<uint8_t>(63, s[b].lm[j]);
        }
    }
  } else {  // kquants_ref.cpp's search_k4
    Vf sum_x2 = splat(0.f);
    for (int i = 0; i < 32; ++i) sum_x2 = sum_x2 + xv[i] * xv[i];
    const Vf av_x = sqrt(sum_x2 / splat(32.f));
    for (int i = 0; i < 32; ++i) w[i] = av_x + abs(xv[i]);
    const RangeSearch search = kQ5 ? RangeSearch{-0.5f, 0.1f, 15, false} : RangeSearch{-1.f, 0.1f, 20, false};
    store(scales, make_qkx_quants(32, nmax, xv, w, L, &min, search));
    store(mins, min);
    for (int b = 0; b < 2; ++b) {
      const float* sc = scales + 8 * b;
      const float* mn = mins + 8 * b;
      float max_scale = 0, max_min = 0;
      for (int j = 0; j < 8; ++j) {
        if (sc[j] > max_scale) max_scale = sc[j];
        if (mn[j] > max_min) max_min = mn[j];
      }
      s[b].d = max_scale / 63.f;
      s[b].dmin = max_min / 63.f;
      const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
      const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
      for (int j = 0; j < 8; ++j) {  // ggml narrows to uint8 first, then clamps
        s[b].ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * sc[j])));
        s[b].lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mn[j])));
      }
    }
  }
  // kquants_ref.cpp's store_k4_scales: store, then requantize against what was stored.
  alignas(32) float dl[16], ml[16];
  for (int b = 0; b < 2; ++b) {
    Block& yb = reinterpret_cast<Block*>(y)[b];
    pack_scales_mins_k4(s[b].ls, s[b].lm, yb.scales);
    store_half(yb.d, s[b].d);
    store_half(yb.dmin, s[b].dmin);
    const float d_all = load_half(yb.d), dmin_all = load_half(yb.dmin);
    uint8_t sc[8], m[8];
    unpack_scales_mins_k4(yb.scales, sc, m);
    for (int j = 0; j < 8; ++j) {
      dl[8 * b + j] = d_all * sc[j];
      ml[8 * b + j] = dmin_all * m[j];
    }
  }
  requantize_asymmetric(xv, 32, load(dl), load(ml), nmax, L);
  uint8_t levels[2 * QK_K];
  store_lanes_u8(L, 32, levels, 32);
  for (int b = 0; b < 2; ++b) {
    Block& yb = reinterpret_cast<Block*>(y)[b];
    if constexpr (kQ5) high_bits(levels + QK_K * b, 15, yb.qh);  // bit e/32 of qh[e % 32]: element e's fifth
    pack_4bit(levels + QK_K * b, yb.qs);
  }
}

// ---- Q6_K -------------------------------------------------------------------------

// One super-block: its 16 sub-blocks are the 16 lanes.
QKV_AVX2 void quantize_q6K_block(const float* x, const float* qw, uint8_t* y) {
  auto& blk = *reinterpret_cast<block_q6_K*>(y);
  Vf xv[16], w[16];  // w: the imatrix as it is, or x^2
  Vi L[16];
  load_blocks(x, 16, 16, xv);
  if (qw)
    load_blocks(qw, 16, 16, w);
  else
    for (int i = 0; i < 16; ++i) w[i] = xv[i] * xv[i];
  alignas(32) float scales[16];
  store(scales, make_qx_quants(16, 32, xv, w, L));
  float max_scale = 0, max_abs_scale = 0;
  for (int j = 0; j < 16; ++j)
    if (std::fabs(scales[j]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  if (max_abs_scale < kGroupMaxEps) {  // an all-zero block: every byte 0
    std::memset(&blk, 0, sizeof blk);
    return;
  }
  const float iscale = -128.f / max_scale;
  store_half(blk.d, 1 / iscale);
  int8_t* sc = blk.scales;
  for (int j = 0; j < 16; ++j) sc[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
  const float d_all = load_half(blk.d);
  alignas(32) float dl[16];
  for (int j = 0; j < 16; ++j) dl[j] = d_all * sc[j];
  requantize_symmetric(xv, 16, load(dl), 32, L);
  uint8_t levels[QK_K];
  store_lanes_u8(L, 16, levels, 16);
  // Per half h: ql[64h + l] holds elements l and l+64 (low nibbles), ql[64h + 32 + l]
  // elements l+32 and l+96; qh[32h + l] the top two bits of l, l+32, l+64, l+96.
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  for (int h = 0; h < 2; ++h) {
    const uint8_t* Lh = levels + 128 * h;
    __m256i v[4];
    for (int k = 0; k < 4; ++k) v[k] = load32(Lh + 32 * k);
    auto low = [&](int k) QKV_AVX2_LAMBDA { return _mm256_and_si256(v[k], nibble); };
    auto top = [&](int k) QKV_AVX2_LAMBDA { return shr_bytes(v[k], 4, 3); };
    store32(blk.ql + 64 * h, _mm256_or_si256(low(0), shl_bytes(low(2), 4)));
    store32(blk.ql + 64 * h + 32, _mm256_or_si256(low(1), shl_bytes(low(3), 4)));
    store32(blk.qh + 32 * h, _mm256_or_si256(_mm256_or_si256(top(0), shl_bytes(top(1), 2)),
                                             _mm256_or_si256(shl_bytes(top(2), 4), shl_bytes(top(3), 6))));
  }
}

// ---- row drivers --------------------------------------------------------------------

template <int kBytes, void (*kQuantizeBlock)(const float*, const float*, uint8_t*)>
QKV_AVX2 void quantize_row_avx2(const float* x, void* dst, int64_t n, const float* imatrix) {
  uint8_t* y = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i)
    kQuantizeBlock(x + i * QK_K, imatrix ? imatrix + i * QK_K : nullptr, y + i * kBytes);
}

// Two super-blocks at a time; an odd last one runs zero-padded.
template <int kBytes, void (*kQuantizePair)(const float*, const float*, uint8_t*)>
QKV_AVX2 void quantize_pairs_avx2(const float* x, void* dst, int64_t n, const float* imatrix) {
  for_each_group<2, QK_K, kBytes>(x, imatrix, static_cast<uint8_t*>(dst), n / QK_K, kQuantizePair);
}

// ---- dequantization -------------------------------------------------------------------

// The 16 bytes at p, shifted right by `shift` and masked, as 16 ints.
QKV_AVX2_INLINE Vi load_bits16(const uint8_t* p, int shift, int mask) {
  const __m128i v = _mm_srl_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), _mm_cvtsi32_si128(shift));
  return widen_u8(_mm_and_si128(v, _mm_set1_epi8(static_cast<char>(mask))));
}

QKV_AVX2 void dequantize_q2K_avx2(const block_q2_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d), min = load_half(b->dmin);
    for (int j = 0; j < 16; ++j, y += 16) {  // sub-block j: elements 16j.., half j/8, bit pair (j%8)/2
      const uint8_t sc = b->scales[j];
      const Vi q = load_bits16(b->qs + 32 * (j / 8) + 16 * (j % 2), 2 * (j % 8 / 2), 3);
      store(y, splat(d * (sc & 0xF)) * to_float(q) - splat(min * (sc >> 4)));
    }
  }
}

QKV_AVX2 void dequantize_q3K_avx2(const block_q3_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d_all = load_half(b->d);
    int8_t scales[16];
    unpack_scales_q3_K(b->scales, scales);
    for (int j = 0; j < 16; ++j, y += 16) {
      const Vi q = load_bits16(b->qs + 32 * (j / 8) + 16 * (j % 2), 2 * (j % 8 / 2), 3);
      const Vi high = load_bits16(b->hmask + 16 * (j % 2), j / 2, 1);
      store(y, splat(d_all * scales[j]) * to_float(q - (splat_i(4) - (high << 2))));
    }
  }
}

// Q4_K when Block is block_q4_K, Q5_K when it is block_q5_K.
template <typename Block>
QKV_AVX2 void dequantize_k4_avx2(const Block* b, float* y, int64_t n) {
  constexpr bool kQ5 = std::is_same_v<Block, block_q5_K>;
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d), min = load_half(b->dmin);
    uint8_t sc[8], m[8];
    unpack_scales_mins_k4(b->scales, sc, m);
    for (int j = 0; j < 8; ++j, y += 32) {  // sub-block j: the low (j even) or high nibbles of 32 bytes
      const Vf dl = splat(d * sc[j]), ml = splat(min * m[j]);
      for (int k = 0; k < 2; ++k) {
        Vi q = load_bits16(b->qs + 32 * (j / 2) + 16 * k, 4 * (j % 2), 0xF);
        if constexpr (kQ5) q = q | load_bits16(b->qh + 16 * k, j, 1) << 4;
        store(y + 16 * k, dl * to_float(q) - ml);
      }
    }
  }
}

QKV_AVX2 void dequantize_q6K_avx2(const block_q6_K* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d);
    for (int j = 0; j < 16; ++j, y += 16) {
      // Sub-block j: half h, quarter k of it, elements l0..l0+15 of the quarter.
      const int h = j / 8, k = j % 8 / 2, l0 = 16 * (j % 2);
      const Vi low = load_bits16(b->ql + 64 * h + 32 * (k & 1) + l0, 4 * (k >> 1), 0xF);
      const Vi high = load_bits16(b->qh + 32 * h + l0, 2 * k, 3);
      store(y, splat(d * b->scales[j]) * to_float((low | high << 4) - splat_i(32)));
    }
  }
}

#endif  // __x86_64__

}  // namespace

void quantize_row_q2_K_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_row_avx2<sizeof(block_q2_K), quantize_q2K_block>(x, dst, n, imatrix)));
  quantize_row_q2_K_ref(x, dst, n, imatrix);
}
void quantize_row_q3_K_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_row_avx2<sizeof(block_q3_K), quantize_q3K_block>(x, dst, n, imatrix)));
  quantize_row_q3_K_ref(x, dst, n, imatrix);
}
void quantize_row_q4_K_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_pairs_avx2<sizeof(block_q4_K), quantize_k4_pair<false>>(x, dst, n, imatrix)));
  quantize_row_q4_K_ref(x, dst, n, imatrix);
}
void quantize_row_q5_K_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_pairs_avx2<sizeof(block_q5_K), quantize_k4_pair<true>>(x, dst, n, imatrix)));
  quantize_row_q5_K_ref(x, dst, n, imatrix);
}
void quantize_row_q6_K_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_row_avx2<sizeof(block_q6_K), quantize_q6K_block>(x, dst, n, imatrix)));
  quantize_row_q6_K_ref(x, dst, n, imatrix);
}

void dequantize_row_q2_K_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_q2K_avx2(static_cast<const block_q2_K*>(src), y, n));
  dequantize_row_q2_K_ref(src, y, n);
}
void dequantize_row_q3_K_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_q3K_avx2(static_cast<const block_q3_K*>(src), y, n));
  dequantize_row_q3_K_ref(src, y, n);
}
void dequantize_row_q4_K_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_k4_avx2(static_cast<const block_q4_K*>(src), y, n));
  dequantize_row_q4_K_ref(src, y, n);
}
void dequantize_row_q5_K_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_k4_avx2(static_cast<const block_q5_K*>(src), y, n));
  dequantize_row_q5_K_ref(src, y, n);
}
void dequantize_row_q6_K_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_q6K_avx2(static_cast<const block_q6_K*>(src), y, n));
  dequantize_row_q6_K_ref(src, y, n);
}

}  // namespace qkv::quant
