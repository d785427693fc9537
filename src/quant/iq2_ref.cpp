// The 2-bit codebook quantizers IQ2_XXS, IQ2_XS and IQ2_S (layouts in
// quant/blocks.h, decoding in iq_dequant_ref.cpp). Each group of 8
// magnitudes is an entry of a codebook of 256, 512 or 1024 vectors of the
// values 8, 25, 43; the signs are stored apart. They follow ggml's
// quantize_row_iq2_{xxs,xs,s}_impl with its float order (iq_common.h).
//
//   IQ2_XXS  per 32: 4 entry indices, 4 x 7 sign bits (even parity), 4-bit scale
//   IQ2_XS   per 16: 2 x (9-bit index | 7 sign bits), 4-bit scale
//   IQ2_S    per 16: 2 x 10-bit index, 2 x 8 sign bits, 4-bit scale
//
// The super-block scale d is the largest block scale / 31; block scale s is
// stored as l with s ~ d (2l + 1).
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/iq_common.h"
#include "quant/ref.h"

namespace qkv::quant {
namespace {

using detail::kGroupMaxEps;
using detail::store_half;
using detail::store_u16;
using detail::store_u32;
using iq::max_of;
using iq::ScaleSearch;

constexpr int kMaxQ = 3;               // levels 0..2
constexpr float kIq2sGroupEps = 1e-8f;  // ggml's GROUP_MAX_EPS_IQ2_S

// imatrix * sqrt(sigma2 + x^2) over n elements.
void imatrix_weights(const float* x, const float* qw, float sigma2, int n, float* w) {
  for (int i = 0; i < n; ++i) w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

float largest(const float* xval, int n) {
  float max = xval[0];
  for (int i = 1; i < n; ++i) max = max_of(max, xval[i]);
  return max;
}

// 32 elements, so a fan around the make_qp_quants scale of the magnitudes
// as levels 0..4 (ggml's first guess), then every group redone.
void quantize_iq2_xxs_block(const float* x, const float* qw, block_iq2_xxs& out) {
  constexpr ScaleSearch kSearch{IqGrid::Iq2xxs, kMaxQ, 6, 0.1f, ScaleSearch::Refit::All};
  const IqSearch& grid = iq_search(IqGrid::Iq2xxs);
  const float sigma2 = detail::sum_squares(x, QK_K) / QK_K;
  uint32_t q2[2 * QK_K / 32] = {};  // per block: the indices word, then the signs-and-scale word
  float scales[QK_K / 32];
  float max_scale = 0;
  for (int ib = 0; ib < QK_K / 32; ++ib) {
    const float* xb = x + 32 * ib;
    float w[32], waux[32], xval[32];
    imatrix_weights(xb, qw + 32 * ib, sigma2, 32, w);
    for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(w[i]);
    uint8_t signs[4];
    for (int k = 0; k < 4; ++k) signs[k] = iq::fold_signs_even(xb + 8 * k, w + 8 * k, xval + 8 * k);
    scales[ib] = 0;
    if (largest(xval, 32) < kGroupMaxEps) continue;
    uint8_t Lqp[32];
    float scale = detail::make_qp_quants(32, kMaxQ + 1, xval, Lqp, w);
    const float eff_max = scale * kMaxQ;
    if (eff_max <= 0) continue;
    int8_t L[32];
    scale = iq::search_scale(kSearch, 32, xval, w, waux, eff_max, scale, L);
    if (scale < 0) {  // ggml's guard; a negative scale stores flipped signs
      scale = -scale;
      for (uint8_t& s : signs) s = static_cast<uint8_t>(~s & 127);
    }
    for (int k = 0; k < 4; ++k) {
      q2[2 * ib] |= uint32_t(iq::entry_index(grid, L + 8 * k)) << (8 * k);
      q2[2 * ib + 1] |= uint32_t(signs[k]) << (7 * k);
    }
    scales[ib] = scale;
    max_scale = max_of(max_scale, scale);
  }
  std::memset(&out, 0, sizeof out);
  if (!max_scale) return;
  const float d = max_scale / 31;
  store_half(out.d, d);
  const float id = 1 / d;
  for (int ib = 0; ib < QK_K / 32; ++ib) q2[2 * ib + 1] |= uint32_t(iq::scale_level(id, scales[ib], 15)) << 28;
  for (int i = 0; i < 2 * QK_K / 32; ++i) store_u32(out.qs + 4 * i, q2[i]);
}

// IQ2_XS and IQ2_S: 16 blocks of 16, scales packed two to a byte. Per block
// they call `put(ib, indices, signs)` with the block's two entries.
template <class Put>
float quantize_iq2_16_blocks(const float* x, const float* w_all, bool even_signs, IqGrid g, float eps,
                             float* scales, Put put) {
  const ScaleSearch search{g, kMaxQ, 9, 0.1f, ScaleSearch::Refit::OffGrid};
  const IqSearch& grid = iq_search(g);
  float max_scale = 0;
  for (int ib = 0; ib < QK_K / 16; ++ib) {
    const float *xb = x + 16 * ib, *w = w_all + 16 * ib;
    float waux[16], xval[16];
    for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(w[i]);
    uint8_t signs[2];
    for (int k = 0; k < 2; ++k)
      signs[k] = even_signs ? iq::fold_signs_even(xb + 8 * k, w + 8 * k, xval + 8 * k)
                            : iq::fold_signs(xb + 8 * k, xval + 8 * k);
    scales[ib] = 0;
    const float max = largest(xval, 16);
    if (max < eps) continue;
    int8_t L[16];
    float scale = iq::search_scale(search, 16, xval, w, waux, max, max / (2 * kMaxQ - 1), L);
    if (scale < 0) {  // ggml's guard; a negative scale stores flipped signs
      scale = -scale;
      for (uint8_t& s : signs) s = static_cast<uint8_t>(even_signs ? ~s & 127 : ~s);
    }
    const int indices[2] = {iq::entry_index(grid, L), iq::entry_index(grid, L + 8)};
    put(ib, indices, signs);
    scales[ib] = scale;
    max_scale = max_of(max_scale, scale);
  }
  return max_scale;
}

void pack_scales_16(const float* scales, float d, uint8_t* out) {
  const float id = 1 / d;
  for (int ib = 0; ib < QK_K / 16; ib += 2)
    out[ib / 2] =
        static_cast<uint8_t>(iq::scale_level(id, scales[ib], 15) | iq::scale_level(id, scales[ib + 1], 15) << 4);
}

void quantize_iq2_xs_block(const float* x, const float* qw, block_iq2_xs& out) {
  const float sigma2 = detail::sum_squares(x, QK_K) / QK_K;
  float w[QK_K], scales[QK_K / 16];
  imatrix_weights(x, qw, sigma2, QK_K, w);
  uint16_t q2[QK_K / 8] = {};
  const float max_scale =
      quantize_iq2_16_blocks(x, w, true, IqGrid::Iq2xs, kGroupMaxEps, scales, [&](int ib, const int* idx, const uint8_t* s) {
        for (int k = 0; k < 2; ++k) q2[2 * ib + k] = static_cast<uint16_t>(idx[k] | s[k] << 9);
      });
  std::memset(&out, 0, sizeof out);
  if (!max_scale) return;
  const float d = max_scale / 31;
  store_half(out.d, d);
  pack_scales_16(scales, d, out.scales);
  for (int i = 0; i < QK_K / 8; ++i) store_u16(out.qs + 2 * i, q2[i]);
}

void quantize_iq2_s_block(const float* x, const float* qw, block_iq2_s& out) {
  const float sigma2 = 2 * detail::sum_squares(x, QK_K) / QK_K;
  float w[QK_K], scales[QK_K / 16];
  if (qw)
    imatrix_weights(x, qw, sigma2, QK_K, w);
  else
    for (int i = 0; i < QK_K; ++i) w[i] = 0.25f * sigma2 + x[i] * x[i];
  std::memset(&out, 0, sizeof out);
  const float max_scale =
      quantize_iq2_16_blocks(x, w, false, IqGrid::Iq2s, kIq2sGroupEps, scales, [&](int ib, const int* idx, const uint8_t* s) {
        for (int k = 0; k < 2; ++k) {
          const int i8 = 2 * ib + k;
          out.qs[i8] = static_cast<uint8_t>(idx[k] & 255);
          out.qh[i8 / 4] = static_cast<uint8_t>(out.qh[i8 / 4] | (idx[k] >> 8) << 2 * (i8 % 4));
          out.signs[i8] = s[k];
        }
      });
  if (!max_scale) return;  // the indices and signs stay, with d = 0
  const float d = max_scale / 31;
  store_half(out.d, d * 0.9875f);  // ggml's fudge factor
  pack_scales_16(scales, d, out.scales);
}

}  // namespace

void quantize_row_iq2_xxs_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  iq::require_imatrix(imatrix, "IQ2_XXS");
  auto* b = static_cast<block_iq2_xxs*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_iq2_xxs_block(x + i * QK_K, imatrix + i * QK_K, b[i]);
}

void quantize_row_iq2_xs_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  iq::require_imatrix(imatrix, "IQ2_XS");
  auto* b = static_cast<block_iq2_xs*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_iq2_xs_block(x + i * QK_K, imatrix + i * QK_K, b[i]);
}

void quantize_row_iq2_s_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* b = static_cast<block_iq2_s*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_iq2_s_block(x + i * QK_K, imatrix ? imatrix + i * QK_K : nullptr, b[i]);
}

}  // namespace qkv::quant
