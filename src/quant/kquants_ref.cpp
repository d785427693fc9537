// The K-quant formats Q2_K, Q3_K, Q4_K, Q5_K and Q6_K: super-blocks of 256
// elements split into sub-blocks of 16 or 32, whose scales (and mins) are
// themselves quantized to a few bits against one fp16 super-scale. The block
// structs and the packing of the sub-scales are in quant/blocks.h; which
// element sits in which bits is below, where the levels are packed.
//
// Without an imatrix each type follows ggml's quantize_row_<t>_ref; with one,
// ggml's quantize_row_<t>_impl, whose searches weigh each element by its
// importance. Both end the same way: the levels are recomputed against the
// scales as actually stored (fp16 super-scale times the few-bit sub-scale).
// Float expressions keep ggml's operation order (ggml-quants.c) and its
// int -> int8/uint8 narrowings, since the bar is bit-exact output.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/ref.h"
#include "quant/ref_common.h"

namespace qkv::quant {
namespace {

using detail::kGroupMaxEps;
using detail::load_half;
using detail::make_qp_quants;
using detail::nearest_int;
using detail::store_half;
using detail::SubScales;
using detail::sum_squares;

// ---- scale searches not in ref_common.h -------------------------------------

// How ggml's make_qkx2_quants scans: ranges (nmax + rmin + rdelta*is)/(max - min)
// for is = 0..steps, scoring each by the weighted |error| or error^2.
struct RangeSearch {
  float rmin, rdelta;
  int steps;
  bool abs_error;
};

// ggml's make_qkx2_quants: asymmetric levels L[i] in [0, nmax], value
// L*scale - the_min. Each tried range gives levels, the levels a weighted
// least-squares (scale, min) fit, and the fit with the lowest error wins.
// ref_common.h's make_qkx3_quants is this with {-0.9, 0.05, 36, false}.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux,
                       const RangeSearch& s) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;  // the offset only ever moves values up
  if (max == min) {
    std::memset(L, 0, n);
    *the_min = -min;
    return 0.f;
  }
  // Reads the current `min`: once a fit with a new offset wins, later ranges
  // and levels are measured from it, as in ggml.
  auto level = [&](float iscale, int i) {
    return static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
  };
  auto error = [&](const uint8_t* q, float scale, float offset) {
    float err = 0;
    for (int i = 0; i < n; ++i) {
      float diff = scale * q[i] + offset - x[i];
      diff = s.abs_error ? std::fabs(diff) : diff * diff;
      err += weights[i] * diff;
    }
    return err;
  };

  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  for (int i = 0; i < n; ++i) L[i] = level(iscale, i);
  float best_err = error(L, scale, min);
  for (int is = 0; is <= s.steps; ++is) {
    iscale = (s.rmin + s.rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = level(iscale, i);
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {  // a positive offset is not representable: refit the scale alone
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    const float err = error(Laux, this_scale, this_min);
    if (err < best_err) {
      std::memcpy(L, Laux, n);
      best_err = err;
      scale = this_scale;
      min = this_min;
    }
  }
  *the_min = -min;
  return scale;
}

// ggml's make_q3_quants with do_rmse (how plain Q3_K calls it): symmetric
// levels L[i] in [0, 2*nmax), value (L - nmax)*scale. Starting from the scale
// that maps the largest-magnitude element to -nmax, single levels are moved to
// their best value under the current least-squares fit (weights x^2) while
// that raises (sum w*x*l)^2 / (sum w*l^2), for at most 5 passes.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});  // note: level 0, not the zero level nmax, as in ggml
    return 0.f;
  }
  auto clamp_level = [&](int l) { return std::clamp(l, -nmax, nmax - 1); };
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_level(nearest_int(iscale * x[i]));
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];  // the sums without element i
      if (!(slx > 0)) continue;
      float sl2 = suml2 - w * L[i] * L[i];
      const int new_l = clamp_level(nearest_int(x[i] * sl2 / slx));
      if (new_l == L[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// ---- pieces shared by several types -------------------------------------------

float sum(const float* v, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += v[i];
  return s;
}

// Weights of the imatrix paths: importance times sqrt(sigma2 + x^2), an
// estimate of the element's magnitude that does not vanish for small x.
void importance_weights(const float* x, const float* qw, float sigma2, int n, float* w) {
  for (int i = 0; i < n; ++i) w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

// Final levels of one sub-block against the scale d and offset dm it was
// stored with, so the levels fit what dequantization will actually use.
void requantize_asymmetric(const float* x, int n, float d, float dm, int nmax, uint8_t* L) {
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(std::clamp(nearest_int((x[i] + dm) / d), 0, nmax));
}
void requantize_symmetric(const float* x, int n, float d, int nmax, int8_t* L) {
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(std::clamp(nearest_int(x[i] / d), -nmax, nmax - 1) + nmax);
}

// 2-bit levels (Q2_K, the low bits of Q3_K): each 128-element half uses 32
// bytes; byte l holds elements l, l+32, l+64, l+96 of the half in bits 0-1,
// 2-3, 4-5, 6-7.
template <typename Level>
void pack_2bit(const Level* L, uint8_t* qs) {
  for (int h = 0; h < QK_K; h += 128)
    for (int l = 0; l < 32; ++l)
      qs[h / 4 + l] =
          static_cast<uint8_t>(L[h + l] | (L[h + l + 32] << 2) | (L[h + l + 64] << 4) | (L[h + l + 96] << 6));
}
int level_2bit(const uint8_t* qs, int e) { return (qs[e / 128 * 32 + e % 32] >> (2 * (e % 128 / 32))) & 3; }

// 4-bit levels (Q4_K, the low bits of Q5_K): each 64 elements use 32 bytes;
// byte l holds element l in the low nibble and element l+32 in the high one.
void pack_4bit(const uint8_t* L, uint8_t* qs) {
  for (int g = 0; g < QK_K; g += 64)
    for (int l = 0; l < 32; ++l) qs[g / 2 + l] = static_cast<uint8_t>((L[g + l] & 0xF) | (L[g + l + 32] & 0xF) << 4);
}
int level_4bit(const uint8_t* qs, int e) { return (qs[e / 64 * 32 + e % 32] >> (4 * (e % 64 / 32))) & 0xF; }

// ---- Q2_K ---------------------------------------------------------------------

// Levels of the stored block; sub-blocks with a zero scale keep the search's levels.
void requantize_q2K(const float* x, const block_q2_K& y, uint8_t* L) {
  const float d = load_half(y.d), dmin = load_half(y.dmin);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float dl = d * (y.scales[j] & 0xF);
    if (!dl) continue;
    const float ml = dmin * (y.scales[j] >> 4);
    requantize_asymmetric(x + 16 * j, 16, dl, ml, 3, L + 16 * j);
  }
}

// ggml's quantize_row_q2_K_ref: per sub-block, weights |x| and mean absolute
// error; the 4-bit sub-scales and sub-mins are plain roundings against the
// largest of each.
void quantize_block_q2K(const float* x, block_q2_K& y) {
  constexpr RangeSearch kSearch{-0.5f, 0.1f, 15, true};
  constexpr float kMaxSub = 15.f;  // 4-bit sub-scales and sub-mins
  uint8_t L[QK_K], aux[16];
  float w[16], scales[QK_K / 16], mins[QK_K / 16];
  float max_scale = 0, max_min = 0;  // mins are subtracted, so scales are never negative
  for (int j = 0; j < QK_K / 16; ++j) {
    for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], aux, kSearch);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  std::memset(y.scales, 0, sizeof y.scales);
  if (max_scale > 0) {
    const float iscale = kMaxSub / max_scale;
    for (int j = 0; j < QK_K / 16; ++j) y.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
  }
  store_half(y.d, max_scale > 0 ? max_scale / kMaxSub : 0.f);
  if (max_min > 0) {
    const float iscale = kMaxSub / max_min;
    for (int j = 0; j < QK_K / 16; ++j) y.scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
  }
  store_half(y.dmin, max_min > 0 ? max_min / kMaxSub : 0.f);
  requantize_q2K(x, y, L);
  pack_2bit(L, y.qs);
}

// ggml's quantize_row_q2_K_impl: imatrix weights, squared error, and the
// sub-scales and sub-mins get their own weighted search (make_qp_quants).
void quantize_block_q2K_weighted(const float* x, const float* qw, block_q2_K& y) {
  uint8_t L[QK_K], aux[16], Ls[QK_K / 16], Lm[QK_K / 16];
  float w[16], sw[QK_K / 16], scales[QK_K / 16], mins[QK_K / 16];
  const float sigma2 = sum_squares(x, QK_K) / QK_K;
  for (int j = 0; j < QK_K / 16; ++j) {
    importance_weights(x + 16 * j, qw + 16 * j, sigma2, 16, w);
    sw[j] = sum(w, 16);
    scales[j] = detail::make_qkx3_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], aux);
  }
  store_half(y.d, make_qp_quants(QK_K / 16, 15, scales, Ls, sw));
  store_half(y.dmin, make_qp_quants(QK_K / 16, 15, mins, Lm, sw));
  for (int j = 0; j < QK_K / 16; ++j) y.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  requantize_q2K(x, y, L);
  pack_2bit(L, y.qs);
}

void dequantize_block_q2K(const block_q2_K& b, float* y) {
  const float d = load_half(b.d), min = load_half(b.dmin);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float dl = d * (b.scales[j] & 0xF), ml = min * (b.scales[j] >> 4);
    for (int e = 16 * j; e < 16 * j + 16; ++e) y[e] = dl * level_2bit(b.qs, e) - ml;
  }
}

// ---- Q3_K ---------------------------------------------------------------------

// Requantizes against the stored scales, then splits each level in [0, 8)
// into its third bit (hmask: element e at bit e/32 of byte e%32) and two low bits.
void finish_q3K(const float* x, block_q3_K& y, int8_t* L) {
  const float d_all = load_half(y.d);
  int8_t scales[QK_K / 16];
  unpack_scales_q3_K(y.scales, scales);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = d_all * scales[j];
    if (!d) continue;
    requantize_symmetric(x + 16 * j, 16, d, 4, L + 16 * j);
  }
  std::memset(y.hmask, 0, sizeof y.hmask);
  for (int e = 0; e < QK_K; ++e) {
    if (L[e] > 3) {
      y.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
      L[e] = static_cast<int8_t>(L[e] - 4);
    }
  }
  pack_2bit(L, y.qs);
}

// ggml's quantize_row_q3_K_ref: make_q3_quants per sub-block, then 6-bit
// sub-scales that map the largest-magnitude scale to -32.
void quantize_block_q3K(const float* x, block_q3_K& y) {
  int8_t L[QK_K], ls[QK_K / 16] = {};
  float scales[QK_K / 16];
  float max_scale = 0, amax = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  float d = 0.f;
  if (max_scale != 0) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < QK_K / 16; ++j) {
      const auto l = static_cast<int8_t>(nearest_int(iscale * scales[j]));  // ggml narrows before clamping
      ls[j] = static_cast<int8_t>(std::clamp<int>(l, -32, 31) + 32);
    }
    d = 1 / iscale;
  }
  pack_scales_q3_K(ls, y.scales);  // all zero when max_scale is 0
  store_half(y.d, d);
  finish_q3K(x, y, L);
}

// ggml's quantize_row_q3_K_impl: make_qx_quants with imatrix weights per
// sub-block, and again (weighted by each sub-block's total weight) for the
// 6-bit sub-scales.
void quantize_block_q3K_weighted(const float* x, const float* qw, block_q3_K& y) {
  int8_t L[QK_K], ls[QK_K / 16];
  float w[16], sw[QK_K / 16], scales[QK_K / 16];
  const float sigma2 = 2 * sum_squares(x, QK_K) / QK_K;
  for (int j = 0; j < QK_K / 16; ++j) {
    importance_weights(x + 16 * j, qw + 16 * j, sigma2, 16, w);
    sw[j] = sum(w, 16);
    scales[j] = detail::make_qx_quants(16, 4, x + 16 * j, L + 16 * j, w);
  }
  const float d = detail::make_qx_quants(QK_K / 16, 32, scales, ls, sw);
  pack_scales_q3_K(ls, y.scales);
  store_half(y.d, d);
  finish_q3K(x, y, L);
}

void dequantize_block_q3K(const block_q3_K& b, float* y) {
  const float d_all = load_half(b.d);
  int8_t scales[QK_K / 16];
  unpack_scales_q3_K(b.scales, scales);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float dl = d_all * scales[j];
    for (int e = 16 * j; e < 16 * j + 16; ++e) {
      const bool high = (b.hmask[e % 32] >> (e / 32)) & 1;
      y[e] = dl * (level_2bit(b.qs, e) - (high ? 0 : 4));
    }
  }
}

// ---- Q4_K and Q5_K --------------------------------------------------------------

// ggml's quantize_row_q4_K_ref / q5_K_ref search: weights av_x + |x| per
// 32-element sub-block, then sub-scales and sub-mins rounded against the
// largest of each (clamped to 6 bits).
SubScales search_k4(const float* x, int nmax, const RangeSearch& search, uint8_t* L) {
  uint8_t aux[32];
  float w[32], scales[QK_K / 32], mins[QK_K / 32];
  float max_scale = 0, max_min = 0;  // mins are subtracted, so scales are never negative
  for (int j = 0; j < QK_K / 32; ++j) {
    const float* xs = x + 32 * j;
    const float av_x = std::sqrt(sum_squares(xs, 32) / 32);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xs[l]);
    scales[j] = make_qkx2_quants(32, nmax, xs, w, L + 32 * j, &mins[j], aux, search);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  SubScales s{max_scale / 63.f, max_min / 63.f, {}, {}};
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QK_K / 32; ++j) {
    // ggml narrows to uint8 first, then clamps
    s.ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    s.lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  return s;
}

// ggml's quantize_row_q4_K_impl / q5_K_impl search: imatrix weights, then
// make_qp_quants (weighted by each sub-block's total weight) for the 6-bit
// sub-scales and sub-mins.
SubScales search_k4_weighted(const float* x, const float* qw, int nmax, uint8_t* L) {
  uint8_t aux[32];
  float w[32], sw[QK_K / 32], scales[QK_K / 32], mins[QK_K / 32];
  const float sigma2 = 2 * sum_squares(x, QK_K) / QK_K;
  for (int j = 0; j < QK_K / 32; ++j) {
    importance_weights(x + 32 * j, qw + 32 * j, sigma2, 32, w);
    sw[j] = sum(w, 32);
    scales[j] = detail::make_qkx3_quants(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], aux);
  }
  SubScales s{};
  s.d = make_qp_quants(QK_K / 32, 63, scales, s.ls, sw);
  s.dmin = make_qp_quants(QK_K / 32, 63, mins, s.lm, sw);
  return s;
}

// Stores d, dmin and the packed sub-scales, then requantizes against them.
void store_k4_scales(const float* x, const SubScales& s, int nmax, uint8_t* d, uint8_t* dmin, uint8_t* scales,
                     uint8_t* L) {
  pack_scales_mins_k4(s.ls, s.lm, scales);
  store_half(d, s.d);
  store_half(dmin, s.dmin);
  const float d_all = load_half(d), dmin_all = load_half(dmin);
  uint8_t sc[QK_K / 32], m[QK_K / 32];
  unpack_scales_mins_k4(scales, sc, m);
  for (int j = 0; j < QK_K / 32; ++j) {
    const float dl = d_all * sc[j];
    if (!dl) continue;
    const float ml = dmin_all * m[j];
    requantize_asymmetric(x + 32 * j, 32, dl, ml, nmax, L + 32 * j);
  }
}

void quantize_block_q4K(const float* x, const float* qw, block_q4_K& y) {
  uint8_t L[QK_K];
  const SubScales s = qw ? search_k4_weighted(x, qw, 15, L) : search_k4(x, 15, {-1.f, 0.1f, 20, false}, L);
  store_k4_scales(x, s, 15, y.d, y.dmin, y.scales, L);
  pack_4bit(L, y.qs);
}

void quantize_block_q5K(const float* x, const float* qw, block_q5_K& y) {
  uint8_t L[QK_K];
  SubScales s;
  if (qw) {
    s = search_k4_weighted(x, qw, 31, L);
    for (int j = 0; j < QK_K / 32; ++j) {  // ggml's q5_K_impl clamps here (q4_K_impl does not)
      s.ls[j] = std::min<uint8_t>(63, s.ls[j]);
      s.lm[j] = std::min<uint8_t>(63, s.lm[j]);
    }
  } else {
    s = search_k4(x, 31, {-0.5f, 0.1f, 15, false}, L);
  }
  store_k4_scales(x, s, 31, y.d, y.dmin, y.scales, L);
  // The fifth bit of element 64g + l sits at bit 2g of qh[l], of 64g + 32 + l at bit 2g + 1.
  std::memset(y.qh, 0, sizeof y.qh);
  for (int e = 0; e < QK_K; ++e)
    if (L[e] > 15) y.qh[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
  pack_4bit(L, y.qs);
}

// Q4_K when qh is null, Q5_K otherwise.
void dequantize_block_k4(const uint8_t* d_half, const uint8_t* dmin_half, const uint8_t* scales, const uint8_t* qh,
                         const uint8_t* qs, float* y) {
  const float d = load_half(d_half), min = load_half(dmin_half);
  uint8_t sc[QK_K / 32], m[QK_K / 32];
  unpack_scales_mins_k4(scales, sc, m);
  for (int j = 0; j < QK_K / 32; ++j) {
    const float dl = d * sc[j], ml = min * m[j];
    for (int e = 32 * j; e < 32 * j + 32; ++e) {
      const int high = qh && ((qh[e % 32] >> (e / 32)) & 1) ? 16 : 0;
      y[e] = dl * (level_4bit(qs, e) + high) - ml;
    }
  }
}

// ---- Q6_K ---------------------------------------------------------------------

// ggml's quantize_row_q6_K_ref and q6_K_impl, which differ only in make_qx_quants'
// weights (x^2, or the imatrix as it is): 8-bit signed sub-scales that map the
// largest-magnitude scale to -128.
void quantize_block_q6K(const float* x, const float* qw, block_q6_K& y) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0, max_abs_scale = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    scales[j] = detail::make_qx_quants(16, 32, x + 16 * j, L + 16 * j, qw ? qw + 16 * j : nullptr);
    if (std::fabs(scales[j]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {  // an all-zero block: every byte 0, d = +0
    std::memset(&y, 0, sizeof y);
    return;
  }
  const float iscale = -128.f / max_scale;
  store_half(y.d, 1 / iscale);
  for (int j = 0; j < QK_K / 16; ++j) y.scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
  const float d_all = load_half(y.d);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = d_all * y.scales[j];
    if (!d) continue;
    requantize_symmetric(x + 16 * j, 16, d, 32, L + 16 * j);
  }
  // Per 128-element half h: ql[64h + l] holds elements l (low nibble) and l+64
  // (high), ql[64h + 32 + l] elements l+32 and l+96; qh[32h + l] holds the top
  // two bits of elements l, l+32, l+64, l+96 in bits 0-1, 2-3, 4-5, 6-7.
  for (int h = 0; h < 2; ++h) {
    const int8_t* Lh = L + 128 * h;
    for (int l = 0; l < 32; ++l) {
      y.ql[64 * h + l] = static_cast<uint8_t>((Lh[l] & 0xF) | (Lh[l + 64] & 0xF) << 4);
      y.ql[64 * h + 32 + l] = static_cast<uint8_t>((Lh[l + 32] & 0xF) | (Lh[l + 96] & 0xF) << 4);
      y.qh[32 * h + l] =
          static_cast<uint8_t>((Lh[l] >> 4) | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 | (Lh[l + 96] >> 4) << 6);
    }
  }
}

void dequantize_block_q6K(const block_q6_K& b, float* y) {
  const float d = load_half(b.d);
  for (int e = 0; e < QK_K; ++e) {
    const int h = e / 128, k = e % 128 / 32, l = e % 32;  // k: which quarter of the half
    const int low = (b.ql[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 0xF;
    const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
    y[e] = d * b.scales[e / 16] * ((low | high << 4) - 32);
  }
}

// ---- row drivers ----------------------------------------------------------------

// Calls quantize(x, imatrix-or-null, block) for each super-block of the row.
template <typename Block, typename Fn>
void for_each_block(const float* x, void* dst, int64_t n, const float* imatrix, Fn quantize) {
  Block* y = static_cast<Block*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize(x + i * QK_K, imatrix ? imatrix + i * QK_K : nullptr, y[i]);
}

}  // namespace

void quantize_row_q2_K_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  for_each_block<block_q2_K>(src, dst, n, imatrix, [](const float* x, const float* qw, block_q2_K& y) {
    if (qw)
      quantize_block_q2K_weighted(x, qw, y);
    else
      quantize_block_q2K(x, y);
  });
}
void quantize_row_q3_K_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  for_each_block<block_q3_K>(src, dst, n, imatrix, [](const float* x, const float* qw, block_q3_K& y) {
    if (qw)
      quantize_block_q3K_weighted(x, qw, y);
    else
      quantize_block_q3K(x, y);
  });
}
void quantize_row_q4_K_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  for_each_block<block_q4_K>(src, dst, n, imatrix, quantize_block_q4K);
}
void quantize_row_q5_K_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  for_each_block<block_q5_K>(src, dst, n, imatrix, quantize_block_q5K);
}
void quantize_row_q6_K_ref(const float* src, void* dst, int64_t n, const float* imatrix) {
  for_each_block<block_q6_K>(src, dst, n, imatrix, quantize_block_q6K);
}

void dequantize_row_q2_K_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const block_q2_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) dequantize_block_q2K(b[i], dst + i * QK_K);
}
void dequantize_row_q3_K_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const block_q3_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) dequantize_block_q3K(b[i], dst + i * QK_K);
}
void dequantize_row_q4_K_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const block_q4_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i)
    dequantize_block_k4(b[i].d, b[i].dmin, b[i].scales, nullptr, b[i].qs, dst + i * QK_K);
}
void dequantize_row_q5_K_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const block_q5_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i)
    dequantize_block_k4(b[i].d, b[i].dmin, b[i].scales, b[i].qh, b[i].qs, dst + i * QK_K);
}
void dequantize_row_q6_K_ref(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const block_q6_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) dequantize_block_q6K(b[i], dst + i * QK_K);
}

}  // namespace qkv::quant
