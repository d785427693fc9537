// The legacy 32-element block formats Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0
// (layouts in quant/blocks.h).
//
//   Q4_0  x = (q - 8) * d,   q 4 bits
//   Q4_1  x = q * d + m,     q 4 bits
//   Q5_0  x = (q - 16) * d,  q 5 bits
//   Q5_1  x = q * d + m,     q 5 bits
//   Q8_0  x = q * d
//
// Nibble j of qs holds element j (low) and element j + 16 (high); the fifth
// bit of element j sits at bit j of the little-endian 32-bit qh.
//
// Without an imatrix each type uses ggml's quantize_row_*_ref (a fixed scale
// from the block's extremes); with one, ggml's quantize_row_*_impl (a weighted
// scale search). Q8_0 has only the first. Float operations follow ggml's order.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "quant/blocks.h"
#include "quant/ref.h"
#include "quant/ref_common.h"

namespace qkv::quant {
namespace {

using detail::load_half;
using detail::load_u32;
using detail::store_half;
using detail::store_u32;

// Packs the low 4 bits of 32 levels into qs[16]; high_bits gives the fifth bits as qh.
void pack_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < QK / 2; ++j) qs[j] = static_cast<uint8_t>((L[j] & 0x0F) | (L[j + QK / 2] & 0x0F) << 4);
}
uint32_t high_bits(const uint8_t* L) {
  uint32_t qh = 0;
  for (int j = 0; j < QK; ++j) qh |= uint32_t((L[j] >> 4) & 1) << j;
  return qh;
}
// Unpacks 32 levels; qh == nullptr for 4-bit types.
void unpack_levels(const uint8_t* qs, const uint8_t* qh, int* q) {
  const uint32_t h = qh ? load_u32(qh) : 0;
  for (int j = 0; j < QK / 2; ++j) {
    q[j] = (qs[j] & 0x0F) | ((h >> j) & 1) << 4;
    q[j + QK / 2] = (qs[j] >> 4) | ((h >> (j + QK / 2)) & 1) << 4;
  }
}

// The signed element of largest magnitude (the first one on ties), as ggml finds it.
float signed_absmax(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < QK; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

// Plain symmetric block (Q4_0, Q5_0): d = max / -2^(bits-1), so the largest-
// magnitude element maps to level 0; the others round by truncating
// x/d + 2^(bits-1) + 0.5 (never negative), capped at the top level.
void quantize_symmetric_block(const float* x, int bits, uint8_t* d_out, uint8_t* L) {
  const int half = 1 << (bits - 1);
  const float d = signed_absmax(x) / static_cast<float>(-half);
  const float id = d ? 1.0f / d : 0.0f;
  store_half(d_out, d);
  const float offset = static_cast<float>(half) + 0.5f;
  for (int j = 0; j < QK; ++j)
    L[j] = static_cast<uint8_t>(std::min(2 * half - 1, static_cast<int>(x[j] * id + offset)));
}

// Plain asymmetric block (Q4_1, Q5_1): min..max split into 2^bits - 1 steps.
void quantize_asymmetric_block(const float* x, int bits, uint8_t* d_out, uint8_t* m_out, uint8_t* L) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < QK; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const int top = (1 << bits) - 1;
  const float d = (max - min) / static_cast<float>(top);
  const float id = d ? 1.0f / d : 0.0f;
  store_half(d_out, d);
  store_half(m_out, min);
  // (x - min)/d + 0.5 < top + 1, so the cap never bites (ggml omits it for 5 bits).
  for (int j = 0; j < QK; ++j) L[j] = static_cast<uint8_t>(std::min(top, static_cast<int>((x[j] - min) * id + 0.5f)));
}

// Per-element weights of ggml's imatrix paths: the importance times an
// estimate of the element's magnitude, sqrt(sigma2 + x^2), where sigma2 is the
// mean square of the whole row.
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}
void block_weights(const float* x, const float* imatrix, float sigma2, float* w) {
  for (int j = 0; j < QK; ++j) w[j] = imatrix[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// Weighted symmetric block (Q4_0, Q5_0): make_qx_quants with nmax = 2^(bits-1).
void quantize_symmetric_block_weighted(const float* x, const float* w, int bits, uint8_t* d_out, uint8_t* L) {
  int8_t l[QK];
  store_half(d_out, detail::make_qx_quants(QK, 1 << (bits - 1), x, l, w));
  for (int j = 0; j < QK; ++j) L[j] = static_cast<uint8_t>(l[j]);
}

// Weighted asymmetric block (Q4_1, Q5_1): make_qkx3_quants; m is minus the offset.
void quantize_asymmetric_block_weighted(const float* x, const float* w, int bits, uint8_t* d_out, uint8_t* m_out,
                                        uint8_t* L) {
  uint8_t aux[QK];
  float min;
  store_half(d_out, detail::make_qkx3_quants(QK, (1 << bits) - 1, x, w, L, &min, aux));
  store_half(m_out, -min);
}

template <int kBits, bool kHasMin>
void quantize_row(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* blocks = static_cast<legacy_block_t<kBits, kHasMin>*>(dst);
  const float sigma2 = imatrix ? row_sigma2(x, n) : 0.f;
  for (int64_t i = 0; i < n / QK; ++i, x += QK) {
    auto& blk = blocks[i];
    uint8_t L[QK];
    if (imatrix) {
      float w[QK];
      block_weights(x, imatrix + i * QK, sigma2, w);
      if constexpr (kHasMin)
        quantize_asymmetric_block_weighted(x, w, kBits, blk.d, blk.m, L);
      else
        quantize_symmetric_block_weighted(x, w, kBits, blk.d, L);
    } else if constexpr (kHasMin) {
      quantize_asymmetric_block(x, kBits, blk.d, blk.m, L);
    } else {
      quantize_symmetric_block(x, kBits, blk.d, L);
    }
    if constexpr (kBits == 5) store_u32(blk.qh, high_bits(L));
    pack_nibbles(L, blk.qs);
  }
}

template <int kBits, bool kHasMin>
void dequantize_row(const void* src, float* y, int64_t n) {
  constexpr int zero = kHasMin ? 0 : 1 << (kBits - 1);
  const auto* blocks = static_cast<const legacy_block_t<kBits, kHasMin>*>(src);
  for (int64_t i = 0; i < n / QK; ++i, y += QK) {
    const auto& blk = blocks[i];
    const float d = load_half(blk.d);
    float m = 0.f;
    if constexpr (kHasMin) m = load_half(blk.m);
    const uint8_t* qh = nullptr;
    if constexpr (kBits == 5) qh = blk.qh;
    int q[QK];
    unpack_levels(blk.qs, qh, q);
    for (int j = 0; j < QK; ++j) {
      const int v = q[j] - zero;
      y[j] = kHasMin ? v * d + m : v * d;
    }
  }
}

}  // namespace

void quantize_row_q4_0_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  quantize_row<4, false>(src, dst, n, imatrix);
}
void quantize_row_q4_1_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  quantize_row<4, true>(src, dst, n, imatrix);
}
void quantize_row_q5_0_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  quantize_row<5, false>(src, dst, n, imatrix);
}
void quantize_row_q5_1_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  quantize_row<5, true>(src, dst, n, imatrix);
}
void dequantize_row_q4_0_ref(const void* src, float* dst, int64_t n) { dequantize_row<4, false>(src, dst, n); }
void dequantize_row_q4_1_ref(const void* src, float* dst, int64_t n) { dequantize_row<4, true>(src, dst, n); }
void dequantize_row_q5_0_ref(const void* src, float* dst, int64_t n) { dequantize_row<5, false>(src, dst, n); }
void dequantize_row_q5_1_ref(const void* src, float* dst, int64_t n) { dequantize_row<5, true>(src, dst, n); }

// Q8_0 ignores the imatrix, as ggml's quantize_q8_0 does: d = amax / 127 and
// q = roundf(x / d) (ties away from zero).
void quantize_row_q8_0_ref(const float* x, void* dst, int64_t n, const float* /*imatrix*/) {
  auto* b = static_cast<block_q8_0*>(dst);
  for (int64_t i = 0; i < n / QK; ++i, x += QK, ++b) {
    float amax = 0;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d ? 1.0f / d : 0.0f;
    store_half(b->d, d);
    for (int j = 0; j < QK; ++j) b->qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void dequantize_row_q8_0_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_q8_0*>(src);
  for (int64_t i = 0; i < n / QK; ++i, ++b, y += QK) {
    const float d = load_half(b->d);
    for (int j = 0; j < QK; ++j) y[j] = b->qs[j] * d;
  }
}

}  // namespace qkv::quant
