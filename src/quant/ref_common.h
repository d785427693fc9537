// Helpers shared by the scalar reference quantizers (src/quant/*_ref.cpp) and
// the scalar parts of the fast ones (src/quant/fast_*.cpp).
// Internal header: include it only from files under src/quant, which are
// compiled with -ffp-contract=off. Every float expression below keeps ggml's
// operation order (ggml-quants.c), since the bar is bit-exact output.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "qkv/fp16.h"

namespace qkv::quant::detail {

// ---- little-endian block fields -------------------------------------------

inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline void store_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline uint32_t load_u32(const uint8_t* p) { return uint32_t(load_u16(p)) | uint32_t(load_u16(p + 2)) << 16; }
inline void store_u32(uint8_t* p, uint32_t v) {
  store_u16(p, static_cast<uint16_t>(v));
  store_u16(p + 2, static_cast<uint16_t>(v >> 16));
}
// ggml_half fields: IEEE fp16 with ggml's rounding (qkv/fp16.h).
inline float load_half(const uint8_t* p) { return fp16_to_fp32(load_u16(p)); }
inline void store_half(uint8_t* p, float f) { store_u16(p, fp32_to_fp16(f)); }

// ---- rounding ---------------------------------------------------------------

// ggml's nearest_int: adding 1.5 * 2^23 leaves round(fval) (ties to even,
// unlike lroundf) in the low mantissa bits. Valid for |fval| <= 2^22 - 1.
inline int nearest_int(float fval) {
  const float biased = fval + 12582912.f;
  return static_cast<int>(std::bit_cast<uint32_t>(biased) & 0x007fffff) - 0x00400000;
}

// ---- scale searches ---------------------------------------------------------

// ggml's GROUP_MAX_EPS: a group whose largest magnitude is below it counts as all zero.
inline constexpr float kGroupMaxEps = 1e-15f;

inline float sum_squares(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// Symmetric quantization of x[0..n) to L[i] in [0, 2*nmax), value (L - nmax)*scale;
// returns the scale. This is ggml's make_qx_quants with rmse_type = 1 (the only
// mode ggml calls): the weights are qw, or x^2 when qw is null. The first scale
// maps the largest-magnitude element to -nmax; 18 nearby scales are then tried
// and the one maximising (sum w*x*l)^2 / (sum w*l^2) wins, with the least-squares
// scale for its levels.
inline float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  auto weight = [&](int i) { return qw ? qw[i] : x[i] * x[i]; };
  auto level = [&](float iscale, int i) { return std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i]))); };
  // Accumulates sum w*x*l and sum w*l^2 for the levels `iscale` gives.
  auto sums = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = level(iscale, i);
      const float w = weight(i);
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
  };
  auto store_levels = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(level(iscale, i) + nmax);
  };

  float iscale = -nmax / max;
  float sumlx, suml2;
  sums(iscale, sumlx, suml2);
  store_levels(iscale);
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sums(iscale, sumlx, suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      store_levels(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Asymmetric quantization of x[0..n) to L[i] in [0, nmax], value L*scale - the_min;
// returns the scale and sets *the_min (>= 0). This is ggml's make_qkx3_quants with
// the arguments every ggml caller passes (rmin = -0.9, rdelta = 0.05, nstep = 36,
// squared error). weights must not be null. Starting from the min..max range, 37
// slightly different ranges are tried; for each, the levels get a weighted
// least-squares (scale, min) fit, and the fit with the lowest weighted squared
// error wins. Laux is n bytes of scratch.
inline float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                              uint8_t* Laux) {
  constexpr float kRmin = -0.9f, kRdelta = 0.05f;
  constexpr int kSteps = 36;
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
  if (max <= min) {
    std::memset(L, 0, n);
    *the_min = -min;
    return 0.f;
  }
  // Reads the current `min`: as in ggml, once a fit with a new offset wins,
  // later ranges and levels are measured from that offset.
  auto level = [&](float iscale, int i) {
    return static_cast<uint8_t>(std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min)))));
  };
  // Weighted squared error of levels q under (scale, offset).
  auto error = [&](const uint8_t* q, float scale, float offset) {
    float err = 0;
    for (int i = 0; i < n; ++i) {
      float diff = scale * q[i] + offset - x[i];
      diff = diff * diff;
      err += weights[i] * diff;
    }
    return err;
  };

  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  for (int i = 0; i < n; ++i) L[i] = level(iscale, i);
  float best_err = error(L, scale, min);
  for (int is = 0; is <= kSteps; ++is) {
    iscale = (kRmin + kRdelta * is + nmax) / (max - min);
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

// ggml's make_qp_quants: quantizes non-negative values x (the sub-block scales
// or mins of the K-quants' imatrix paths) to L[i] in [0, nmax], value L*scale,
// with weights w. First the best of 9 scales near max/nmax by weighted squared
// error, then single levels are moved to their best value under the current
// least-squares fit while that raises (sum w*x*l)^2 / (sum w*l^2), for at most
// 5 passes. Levels are stored through uint8_t exactly where ggml narrows them.
inline float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* w) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];  // ggml's MAX, signed zeros included
  if (max < kGroupMaxEps) {
    std::fill(L, L + n, uint8_t{0});
    return 0.f;
  }
  float iscale = nmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    best_mse += w[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * is + nmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * l;
      mse += w[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    sumlx += w[i] * x[i] * l;
    suml2 += w[i] * l * l;
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float slx = sumlx - w[i] * x[i] * L[i];  // the sums without element i
      float sl2 = suml2 - w[i] * L[i] * L[i];
      if (!(slx > 0 && sl2 > 0)) continue;
      const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
      if (new_l == L[i]) continue;
      slx += w[i] * x[i] * new_l;
      sl2 += w[i] * new_l * new_l;
      if (slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<uint8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// ---- K-quant sub-block scales ---------------------------------------------------

// Q4_K / Q5_K: the quantized 6-bit sub-block scales and mins of a super-block
// (packed by pack_scales_mins_k4, quant/blocks.h) and the super-scales they multiply.
struct SubScales {
  float d, dmin;
  uint8_t ls[8], lm[8];
};

}  // namespace qkv::quant::detail
