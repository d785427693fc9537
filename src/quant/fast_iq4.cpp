// Fast IQ4_NL and IQ4_XS, bit-identical to iq4_ref.cpp (see there for the
// formats and the scale search).
//
// The search over 16 candidate scales per 32-element block sums in element
// order, so blocks are vectorised across, one block per lane: 16 blocks at
// once for IQ4_NL, the 8 blocks of each of two super-blocks for IQ4_XS.
//
// The reference finds an element's level by binary search over the 16 values
// and then compares the distances to the two neighbours in float. For every
// float x (checked exhaustively, NaN included) that picks the same index as
// counting the midpoints (v[k] + v[k+1]) / 2 that are not greater than x, with
// NaN counted past every midpoint -- which four vector compares can do.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/fast.h"
#include "quant/ref.h"
#include "quant/ref_common.h"
#include "quant/simd.h"

namespace qkv::quant {
namespace {

#if defined(__x86_64__)
using namespace simd;

constexpr int kBlock = QK;
constexpr int kSuper = QK_K;
constexpr int kIq4NlBytes = sizeof(block_iq4_nl);
constexpr int kIq4XsBytes = sizeof(block_iq4_xs);

// kIq4nlValues as floats.
constexpr auto kValues = [] {
  std::array<float, 16> v{};
  for (int k = 0; k < 16; ++k) v[k] = kIq4nlValues[k];
  return v;
}();
constexpr float mid(int k) { return (kValues[k] + kValues[k + 1]) / 2; }  // exact: halves of small integers

// The level tables as registers.
struct Levels {
  __m256 values_lo, values_hi;  // kValues[0..8), kValues[8..16)
  __m256 mid_by_4;              // mid(4k + 1), k = 0..3
  __m256 mid_by_2;              // mid(2k), k = 0..7
};

QKV_AVX2_INLINE Levels make_levels() {
  return {
      _mm256_setr_ps(kValues[0], kValues[1], kValues[2], kValues[3], kValues[4], kValues[5], kValues[6], kValues[7]),
      _mm256_setr_ps(kValues[8], kValues[9], kValues[10], kValues[11], kValues[12], kValues[13], kValues[14],
                     kValues[15]),
      _mm256_setr_ps(mid(1), mid(5), mid(9), mid(13), 0, 0, 0, 0),
      _mm256_setr_ps(mid(0), mid(2), mid(4), mid(6), mid(8), mid(10), mid(12), mid(14))};
}

// iq4_ref.cpp's nearest_level, as a binary search over the midpoints: the
// number of midpoints m with !(x < m).
QKV_AVX2_INLINE Vi nearest_level(Vf x, const Levels& t) {
  const Mask ge8 = not_less(x, splat(mid(7)));
  Vi idx = as_int(ge8) & splat_i(8);
  idx = idx + (as_int(not_less(x, select(ge8, splat(mid(11)), splat(mid(3))))) & splat_i(4));
  idx = idx + (as_int(not_less(x, lookup8(t.mid_by_4, idx >> 2))) & splat_i(2));
  idx = idx + (as_int(not_less(x, lookup8(t.mid_by_2, idx >> 1))) & splat_i(1));
  return idx;
}

// iq4_ref.cpp's block_weights for 16 blocks; imatrix null: x^2.
QKV_AVX2_INLINE void block_weights(const Vf* x, const Vf* imatrix, Vf sigma2, Vf* w) {
  for (int j = 0; j < kBlock; ++j) w[j] = imatrix ? imatrix[j] * sqrt(sigma2 + x[j] * x[j]) : x[j] * x[j];
}

// iq4_ref.cpp's best_block_scale for 16 blocks.
QKV_AVX2_INLINE Vf best_block_scale(const Vf* x, const Vf* w, const Levels& t) {
  Vf amax = splat(0.f), max = splat(0.f);
  for (int j = 0; j < kBlock; ++j) {
    const Mask bigger = abs(x[j]) > amax;  // strict: the first of equal magnitudes stays
    amax = select(bigger, abs(x[j]), amax);
    max = select(bigger, x[j], max);
  }
  const Mask zero_block = amax < splat(1e-15f);
  auto sums = [&](Vf id, Vf& sumqx, Vf& sumq2) QKV_AVX2_LAMBDA {
    sumqx = sumq2 = splat(0.f);
    for (int j = 0; j < kBlock; ++j) {
      const Vf q = lookup16(t.values_lo, t.values_hi, nearest_level(id * x[j], t));
      const Vf wq = w[j] * q;
      sumqx = sumqx + wq * x[j];
      sumq2 = sumq2 + wq * q;
    }
  };
  Vf sumqx, sumq2;
  sums(splat(1.f) / (-max / splat(kValues[0])), sumqx, sumq2);
  Vf d = select(sumq2 > splat(0.f), sumqx / sumq2, splat(0.f));
  Vf best = d * sumqx;
  for (int itry = -7; itry <= 7; ++itry) {
    sums(splat(static_cast<float>(itry + static_cast<int>(kValues[0]))) / max, sumqx, sumq2);
    const Mask better = (sumq2 > splat(0.f)) & (sumqx * sumqx > best * sumq2);
    d = select(better, sumqx / sumq2, d);
    best = select(better, d * sumqx, best);
  }
  return select(zero_block, splat(0.f), d);
}

// iq4_ref.cpp's quantize_levels for 16 blocks: block k's 16 bytes of
// nibbles go to qs + k * stride.
QKV_AVX2_INLINE void store_levels(const Vf* x, Vf d, const Levels& t, uint8_t* qs, size_t stride) {
  const Vf id = select(d != splat(0.f), splat(1.f) / d, splat(0.f));
  Vi nibbles[kBlock / 2];
  for (int j = 0; j < kBlock / 2; ++j)
    nibbles[j] = nearest_level(id * x[j], t) | nearest_level(id * x[j + kBlock / 2], t) << 4;
  store_lanes_u8(nibbles, kBlock / 2, qs, stride);
}

// 16 IQ4_NL blocks.
QKV_AVX2 void quantize_iq4_nl_group(const float* x, const float* imatrix, uint8_t* b) {
  const Levels t = make_levels();
  Vf xv[kBlock], w[kBlock], im[kBlock];
  load_blocks(x, kBlock, kBlock, xv);
  if (imatrix) load_blocks(imatrix, kBlock, kBlock, im);
  Vf sigma2 = splat(0.f);  // iq4_ref.cpp's block_sigma2, per block
  for (int j = 0; j < kBlock; ++j) sigma2 = sigma2 + xv[j] * xv[j];
  sigma2 = sigma2 * splat(2.f / static_cast<float>(kBlock));
  block_weights(xv, imatrix ? im : nullptr, sigma2, w);
  const Vf d = best_block_scale(xv, w, t);
  store_lanes_half(d, b + offsetof(block_iq4_nl, d), kIq4NlBytes);
  store_levels(xv, d, t, b + offsetof(block_iq4_nl, qs), kIq4NlBytes);
}

QKV_AVX2 void quantize_iq4_nl_avx2(const float* x, uint8_t* b, int64_t n, const float* imatrix) {
  for_each_group<kLanes, kBlock, kIq4NlBytes>(x, imatrix, b, n / kBlock, quantize_iq4_nl_group);
}

// Two IQ4_XS super-blocks: their 8 + 8 blocks are the 16 lanes.
QKV_AVX2 void quantize_iq4_xs_pair(const float* x, const float* imatrix, uint8_t* bytes) {
  auto* out = reinterpret_cast<block_iq4_xs*>(bytes);
  constexpr int kSub = kSuper / kBlock;
  static_assert(2 * kSub == kLanes);
  const Levels t = make_levels();
  float sigma2[2] = {0, 0};  // iq4_ref.cpp's block_sigma2 over each super-block
  for (int j = 0; j < kSuper; ++j)
    for (int s = 0; s < 2; ++s) sigma2[s] += x[s * kSuper + j] * x[s * kSuper + j];
  for (int s = 0; s < 2; ++s) sigma2[s] = sigma2[s] * (2.f / static_cast<float>(kSuper));
  Vf xv[kBlock], w[kBlock], im[kBlock];
  load_blocks(x, kBlock, kBlock, xv);
  if (imatrix) load_blocks(imatrix, kBlock, kBlock, im);
  block_weights(xv, imatrix ? im : nullptr, splat_halves(sigma2[0], sigma2[1]), w);
  alignas(32) float scales[kLanes], block_d[kLanes];
  store(scales, best_block_scale(xv, w, t));

  // Per super-block, the 6-bit block scales against its d, in scalar code as in the reference.
  for (int s = 0; s < 2; ++s) {
    const float* sc = scales + kSub * s;
    block_iq4_xs& o = out[s];
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < kSub; ++ib)
      if (std::fabs(sc[ib]) > amax_scale) {
        amax_scale = std::fabs(sc[ib]);
        max_scale = sc[ib];
      }
    const float d = -max_scale / 32;
    const float id = d ? 1 / d : 0.f;
    detail::store_half(o.d, d);
    uint16_t scales_h = 0;
    uint8_t* scales_l = o.scales_l;
    std::memset(scales_l, 0, kSub / 2);
    for (int ib = 0; ib < kSub; ++ib) {
      const int l = std::max(-32, std::min(31, detail::nearest_int(id * sc[ib])));
      block_d[kSub * s + ib] = d * l;
      const int ls = l + 32;
      scales_l[ib / 2] |= static_cast<uint8_t>((ls & 0xf) << 4 * (ib % 2));
      scales_h |= static_cast<uint16_t>((ls >> 4) << 2 * ib);
    }
    detail::store_u16(o.scales_h, scales_h);
  }
  // Lane k's nibbles go to block k % 8 of super-block k / 8.
  alignas(16) uint8_t qs[kLanes][kBlock / 2];
  store_levels(xv, load(block_d), t, qs[0], kBlock / 2);
  for (int k = 0; k < kLanes; ++k) std::memcpy(out[k / kSub].qs + (k % kSub) * kBlock / 2, qs[k], kBlock / 2);
}

QKV_AVX2 void quantize_iq4_xs_avx2(const float* x, uint8_t* b, int64_t n, const float* imatrix) {
  for_each_group<2, kSuper, kIq4XsBytes>(x, imatrix, b, n / kSuper, quantize_iq4_xs_pair);
}

// ---- dequantization ---------------------------------------------------------------

// 32 values d * kValues[q] from 16 bytes of nibbles.
QKV_AVX2_INLINE void dequantize_levels(const uint8_t* qs, Vf d, const Levels& t, float* y) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const Vi lo = widen_u8(_mm_and_si128(packed, _mm_set1_epi8(0x0F)));
  const Vi hi = widen_u8(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
  store(y, d * lookup16(t.values_lo, t.values_hi, lo));
  store(y + 16, d * lookup16(t.values_lo, t.values_hi, hi));
}

QKV_AVX2 void dequantize_iq4_nl_avx2(const block_iq4_nl* b, float* y, int64_t n) {
  const Levels t = make_levels();
  for (int64_t i = 0; i < n / kBlock; ++i, ++b, y += kBlock) dequantize_levels(b->qs, splat(load_half(b->d)), t, y);
}

QKV_AVX2 void dequantize_iq4_xs_avx2(const block_iq4_xs* b, float* y, int64_t n) {
  const Levels t = make_levels();
  for (int64_t i = 0; i < n / kSuper; ++i, ++b) {
    const float d = load_half(b->d);
    for (int ib = 0; ib < kSuper / kBlock; ++ib, y += kBlock)
      dequantize_levels(b->qs + ib * kBlock / 2, splat(d * (iq4_xs_scale(*b, ib) - 32)), t, y);
  }
}

#endif  // __x86_64__

}  // namespace

void quantize_row_iq4_nl_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2(quantize_iq4_nl_avx2(x, static_cast<uint8_t*>(dst), n, imatrix));
  quantize_row_iq4_nl_ref(x, dst, n, imatrix);
}
void quantize_row_iq4_xs_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2(quantize_iq4_xs_avx2(x, static_cast<uint8_t*>(dst), n, imatrix));
  quantize_row_iq4_xs_ref(x, dst, n, imatrix);
}
void dequantize_row_iq4_nl_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_iq4_nl_avx2(static_cast<const block_iq4_nl*>(src), y, n));
  dequantize_row_iq4_nl_ref(src, y, n);
}
void dequantize_row_iq4_xs_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_iq4_xs_avx2(static_cast<const block_iq4_xs*>(src), y, n));
  dequantize_row_iq4_xs_ref(src, y, n);
}

}  // namespace qkv::quant
