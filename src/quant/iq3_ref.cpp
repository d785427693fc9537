// The 3-bit codebook quantizers IQ3_XXS and IQ3_S (layouts in quant/blocks.h,
// decoding in iq_dequant_ref.cpp). Each group of 4 magnitudes is an entry
// of a codebook of 256 or 512 vectors of 8 levels; the signs are stored
// apart. They follow ggml's quantize_row_iq3_xxs_impl and
// quantize_row_iq3_s_impl with its float order (iq_common.h).
//
//   IQ3_XXS  per 32: 8 x 8-bit index, 4 x 7 sign bits (even parity), 4-bit scale
//   IQ3_S    per 32: 8 x 9-bit index, 4 x 8 sign bits, 4-bit scale
//
// The super-block scale d is the largest block scale / 31, stored with a
// fudge factor; block scale s is stored as l with s ~ d (2l + 1).
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/iq_common.h"
#include "quant/ref.h"

namespace qkv::quant {
namespace {

using detail::store_half;
using detail::store_u32;
using iq::max_of;
using iq::ScaleSearch;

constexpr int kMaxQ = 8;  // levels 0..7
constexpr int kBlock = 32;
constexpr float kIq3xxsGroupEps = 1e-8f;  // ggml's GROUP_MAX_EPS_IQ3_XXS

// A block's weights (imatrix * sqrt(sigma2 + x^2), or x^2 without an
// imatrix), their square roots, and its magnitudes (set by the sign folds).
struct Block {
  float w[kBlock], waux[kBlock], xval[kBlock];
};
void block_weights(const float* xb, const float* qw, float sigma2, Block& b) {
  for (int i = 0; i < kBlock; ++i) b.w[i] = qw ? qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
  for (int i = 0; i < kBlock; ++i) b.waux[i] = std::sqrt(b.w[i]);
}
float largest(const float* xval) {
  float max = xval[0];
  for (int i = 1; i < kBlock; ++i) max = max_of(max, xval[i]);
  return max;
}

void quantize_iq3_xxs_block(const float* x, const float* qw, block_iq3_xxs& out) {
  constexpr ScaleSearch kSearch{IqGrid::Iq3xxs, kMaxQ, 15, 0.2f, ScaleSearch::Refit::OffGrid};
  const IqSearch& grid = iq_search(IqGrid::Iq3xxs);
  const float sigma2 = 2 * detail::sum_squares(x, QK_K) / QK_K;
  std::memset(&out, 0, sizeof out);
  uint32_t scales_signs[QK_K / kBlock] = {};
  float scales[QK_K / kBlock];
  float max_scale = 0;
  for (int ib = 0; ib < QK_K / kBlock; ++ib) {
    const float* xb = x + kBlock * ib;
    Block b;
    block_weights(xb, qw ? qw + kBlock * ib : nullptr, sigma2, b);
    uint8_t signs[4];
    for (int k = 0; k < 4; ++k) signs[k] = iq::fold_signs_even(xb + 8 * k, b.w + 8 * k, b.xval + 8 * k);
    scales[ib] = 0;
    const float max = largest(b.xval);
    if (max < kIq3xxsGroupEps) continue;
    int8_t L[kBlock];
    float scale = iq::search_scale(kSearch, kBlock, b.xval, b.w, b.waux, max, max / (2 * kMaxQ - 1), L);
    if (scale < 0) {  // ggml's guard; a negative scale stores flipped signs
      scale = -scale;
      for (uint8_t& s : signs) s = static_cast<uint8_t>(~s & 127);
    }
    for (int k = 0; k < 8; ++k) out.qs[8 * ib + k] = static_cast<uint8_t>(iq::entry_index(grid, L + 4 * k));
    scales_signs[ib] = uint32_t(signs[0]) | uint32_t(signs[1]) << 7 | uint32_t(signs[2]) << 14 | uint32_t(signs[3]) << 21;
    scales[ib] = scale;
    max_scale = max_of(max_scale, scale);
  }
  if (!max_scale) {
    std::memset(&out, 0, sizeof out);
    return;
  }
  const float d = max_scale / 31;
  store_half(out.d, d * 1.0125f);  // ggml's fudge factor
  const float id = 1 / d;
  for (int ib = 0; ib < QK_K / kBlock; ++ib) {
    scales_signs[ib] |= uint32_t(iq::scale_level(id, scales[ib], 15)) << 28;
    store_u32(out.scales_signs + 4 * ib, scales_signs[ib]);
  }
}

void quantize_iq3_s_block(const float* x, const float* qw, block_iq3_s& out) {
  constexpr ScaleSearch kSearch{IqGrid::Iq3s, kMaxQ, 9, 0.2f, ScaleSearch::Refit::AllIfAnyOff};
  const IqSearch& grid = iq_search(IqGrid::Iq3s);
  const float sigma2 = 2 * detail::sum_squares(x, QK_K) / QK_K;
  std::memset(&out, 0, sizeof out);
  // ggml advances its index and sign cursors only past blocks it quantizes,
  // so after an all-zero block the later blocks' indices and signs sit one
  // block early (their high index bits and scales do not move). The bytes
  // must match, so this does the same.
  uint8_t* qs = out.qs;
  uint8_t* signs_out = out.signs;
  float scales[QK_K / kBlock];
  float max_scale = 0;
  for (int ib = 0; ib < QK_K / kBlock; ++ib) {
    const float* xb = x + kBlock * ib;
    Block b;
    block_weights(xb, qw ? qw + kBlock * ib : nullptr, sigma2, b);
    uint8_t signs[4];
    for (int k = 0; k < 4; ++k) signs[k] = iq::fold_signs(xb + 8 * k, b.xval + 8 * k);
    scales[ib] = 0;
    const float max = largest(b.xval);
    if (!max) continue;
    int8_t L[kBlock];
    float scale = iq::search_scale(kSearch, kBlock, b.xval, b.w, b.waux, max, max / (2 * kMaxQ - 1), L);
    if (scale < 0) {  // ggml's guard; a negative scale stores flipped signs
      scale = -scale;
      for (uint8_t& s : signs) s = static_cast<uint8_t>(~s);
    }
    for (int k = 0; k < 8; ++k) {
      const int index = iq::entry_index(grid, L + 4 * k);
      qs[k] = static_cast<uint8_t>(index & 255);
      out.qh[ib] = static_cast<uint8_t>(out.qh[ib] | (index >> 8) << k);
    }
    qs += 8;
    std::memcpy(signs_out, signs, 4);
    signs_out += 4;
    scales[ib] = scale;
    max_scale = max_of(max_scale, scale);
  }
  if (!max_scale) return;
  const float d = max_scale / 31;
  store_half(out.d, d * 1.033f);  // ggml's fudge factor
  const float id = 1 / d;
  for (int ib = 0; ib < QK_K / kBlock; ib += 2)
    out.scales[ib / 2] =
        static_cast<uint8_t>(iq::scale_level(id, scales[ib], 15) | iq::scale_level(id, scales[ib + 1], 15) << 4);
}

}  // namespace

void quantize_row_iq3_xxs_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* b = static_cast<block_iq3_xxs*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_iq3_xxs_block(x + i * QK_K, imatrix ? imatrix + i * QK_K : nullptr, b[i]);
}

void quantize_row_iq3_s_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* b = static_cast<block_iq3_s*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_iq3_s_block(x + i * QK_K, imatrix ? imatrix + i * QK_K : nullptr, b[i]);
}

}  // namespace qkv::quant
