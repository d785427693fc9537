// The non-linear 4-bit formats IQ4_NL and IQ4_XS (layouts in quant/blocks.h).
// A 4-bit index selects one of 16 fixed values (kIq4nlValues, denser near
// zero), scaled per 32 elements.
//
//   IQ4_NL  32 elements:  x = d * value[q]
//   IQ4_XS  256 elements: block ib (of 8) has a 6-bit scale ls = low nibble
//           from scales_l | 2 bits from scales_h; x = d * (ls - 32) * value[q]
//
// Nibble j of each 16-byte qs group holds element j (low) and j + 16 (high).
// Both quantizers follow ggml's quantize_row_iq4_nl_impl as ggml_quantize_chunk
// calls it (a search over 15 candidate scales per block), with or without an
// imatrix; float operations keep ggml's order.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/ref.h"
#include "quant/ref_common.h"

namespace qkv::quant {
namespace {

using detail::load_half;
using detail::store_half;
using detail::store_u16;

constexpr int kBlock = QK;      // elements per scale
constexpr int kSuper = QK_K;    // elements per IQ4_XS block
constexpr int kScaleTries = 7;  // candidate scales are tried for offsets -7..7

// Index of the level nearest to x (binary search; the upper one on a tie).
int nearest_level(float x) {
  const int8_t* v = kIq4nlValues;
  if (x <= v[0]) return 0;
  if (x >= v[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < v[mid])
      hi = mid;
    else
      lo = mid;
  }
  return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

// Best scale for one 32-element block under weights w: first the scale that
// maps the largest-magnitude element to the -127 end, refined by least squares
// on its levels; then 15 scales around it, keeping the one that maximises
// (sum w*q*x)^2 / (sum w*q^2). Returns 0 for an all-zero block.
float best_block_scale(const float* x, const float* w) {
  float amax = 0, max = 0;
  for (int j = 0; j < kBlock; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  if (amax < 1e-15f) return 0;  // ggml's GROUP_MAX_EPS

  // sum w*q*x and sum w*q^2 for the levels that 1/id gives.
  auto sums = [&](float id, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float q = kIq4nlValues[nearest_level(id * x[j])];
      sumqx += w[j] * q * x[j];
      sumq2 += w[j] * q * q;
    }
  };
  float sumqx, sumq2;
  sums(1 / (-max / kIq4nlValues[0]), sumqx, sumq2);
  float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int itry = -kScaleTries; itry <= kScaleTries; ++itry) {
    sums((itry + kIq4nlValues[0]) / max, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// The weights of one block: imatrix * sqrt(sigma2 + x^2) with an imatrix, x^2 without.
void block_weights(const float* x, const float* imatrix, float sigma2, float* w) {
  for (int j = 0; j < kBlock; ++j) w[j] = imatrix ? imatrix[j] * std::sqrt(sigma2 + x[j] * x[j]) : x[j] * x[j];
}

// Twice the mean square of the n elements of a (super-)block.
float block_sigma2(const float* x, int n) {
  float sigma2 = 0;
  for (int j = 0; j < n; ++j) sigma2 += x[j] * x[j];
  return sigma2 * (2.f / static_cast<float>(n));
}

// Levels of x[0..32) for scale d (d == 0 gives the level nearest 0), packed into qs[16].
void quantize_levels(const float* x, float d, uint8_t* qs) {
  const float id = d ? 1 / d : 0.f;
  uint8_t L[kBlock];
  for (int j = 0; j < kBlock; ++j) L[j] = static_cast<uint8_t>(nearest_level(id * x[j]));
  for (int j = 0; j < kBlock / 2; ++j) qs[j] = static_cast<uint8_t>(L[j] | L[j + kBlock / 2] << 4);
}

void dequantize_levels(const uint8_t* qs, float d, float* y) {
  for (int j = 0; j < kBlock / 2; ++j) {
    y[j] = d * kIq4nlValues[qs[j] & 0xf];
    y[j + kBlock / 2] = d * kIq4nlValues[qs[j] >> 4];
  }
}

// One IQ4_XS super-block. Each block's best scale is rounded to a 6-bit
// multiple of d = -max_scale/32 (max_scale: the largest in magnitude), and the
// levels are recomputed for that rounded (unrounded-d) block scale.
void quantize_iq4_xs_block(const float* x, const float* imatrix, block_iq4_xs& out) {
  constexpr int nb = kSuper / kBlock;
  const float sigma2 = block_sigma2(x, kSuper);
  float scales[nb];
  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < nb; ++ib) {
    float w[kBlock];
    block_weights(x + ib * kBlock, imatrix ? imatrix + ib * kBlock : nullptr, sigma2, w);
    scales[ib] = best_block_scale(x + ib * kBlock, w);
    if (std::fabs(scales[ib]) > amax_scale) {
      amax_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  const float d = -max_scale / 32;
  const float id = d ? 1 / d : 0.f;
  store_half(out.d, d);
  uint16_t scales_h = 0;
  uint8_t* scales_l = out.scales_l;
  std::memset(scales_l, 0, nb / 2);
  for (int ib = 0; ib < nb; ++ib) {
    const int l = std::max(-32, std::min(31, detail::nearest_int(id * scales[ib])));
    quantize_levels(x + ib * kBlock, d * l, out.qs + ib * kBlock / 2);
    const int ls = l + 32;  // stored biased, 6 bits
    scales_l[ib / 2] |= static_cast<uint8_t>((ls & 0xf) << 4 * (ib % 2));
    scales_h |= static_cast<uint16_t>((ls >> 4) << 2 * ib);
  }
  store_u16(out.scales_h, scales_h);
}

}  // namespace

void quantize_row_iq4_nl_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* b = static_cast<block_iq4_nl*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i, x += kBlock, ++b) {
    float w[kBlock];
    block_weights(x, imatrix ? imatrix + i * kBlock : nullptr, block_sigma2(x, kBlock), w);
    const float d = best_block_scale(x, w);
    store_half(b->d, d);
    quantize_levels(x, d, b->qs);
  }
}

void dequantize_row_iq4_nl_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq4_nl*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i, ++b, y += kBlock) dequantize_levels(b->qs, load_half(b->d), y);
}

void quantize_row_iq4_xs_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* b = static_cast<block_iq4_xs*>(dst);
  for (int64_t i = 0; i < n / kSuper; ++i, x += kSuper)
    quantize_iq4_xs_block(x, imatrix ? imatrix + i * kSuper : nullptr, b[i]);
}

void dequantize_row_iq4_xs_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq4_xs*>(src);
  for (int64_t i = 0; i < n / kSuper; ++i, ++b) {
    const float d = load_half(b->d);
    for (int ib = 0; ib < kSuper / kBlock; ++ib, y += kBlock)
      dequantize_levels(b->qs + ib * kBlock / 2, d * (iq4_xs_scale(*b, ib) - 32), y);
  }
}

}  // namespace qkv::quant
