// Steps shared by the IQ2 and IQ3 reference quantizers (iq2_ref.cpp,
// iq3_ref.cpp). Internal header for src/quant (compiled with
// -ffp-contract=off); float expressions keep ggml's operation order.
//
// All these quantizers work on the magnitudes of a block (the signs are
// stored apart) and fit one scale per block: each group of 8 (IQ2) or 4 (IQ3)
// magnitudes becomes a codebook entry whose coordinates are 2l + 1 times the
// scale (iq_search.h). A block's scale is found by trying a fan of scales
// near the one that maps its largest magnitude to the top level.
#pragma once

#include <cfloat>
#include <cstdint>

#include "qkv/error.h"
#include "quant/iq_search.h"
#include "quant/ref_common.h"

namespace qkv::quant::iq {

// ggml's MAX(a, b): the second argument unless a > b, so -0.0 and 0.0 order as ggml's do.
inline float max_of(float a, float b) { return a > b ? a : b; }

// The magnitudes of x[0..8) into xval and the bits of the negative ones.
inline uint8_t fold_signs(const float* x, float* xval) {
  uint8_t s = 0;
  for (int i = 0; i < 8; ++i) {
    xval[i] = x[i] >= 0 ? x[i] : -x[i];
    if (x[i] < 0) s = static_cast<uint8_t>(s | 1 << i);
  }
  return s;
}

// As fold_signs, for formats that store 7 sign bits and imply the 8th from
// an even count of minus signs: with an odd count, the element of least
// weight*x^2 keeps the wrong sign (its xval turns negative). Returns 7 bits.
inline uint8_t fold_signs_even(const float* x, const float* w, float* xval) {
  uint8_t s = fold_signs(x, xval);
  if (__builtin_popcount(s) % 2) {
    int imin = 0;
    float min = w[0] * x[0] * x[0];
    for (int i = 1; i < 8; ++i) {
      const float v = w[i] * x[i] * x[i];
      if (v < min) {
        min = v;
        imin = i;
      }
    }
    xval[imin] = -xval[imin];
    s = static_cast<uint8_t>(s ^ 1 << imin);
  }
  return static_cast<uint8_t>(s & 127);
}

// The level of magnitude x under inverse scale id: x ~ (2l + 1) / id, l in [0, kmax).
inline int8_t level_of(float id, float x, int kmax) {
  return static_cast<int8_t>(std::max(0, std::min(kmax - 1, detail::nearest_int(0.5f * (id * x - 1)))));
}

// A block's 4-bit sub-scale (of IQ2 and IQ3), given 1/d of the super-block.
inline int scale_level(float id, float scale, int max) {
  return std::max(0, std::min(max, detail::nearest_int(0.5f * (id * scale - 1))));
}

// Sets the levels L of one group to the entry among its key's neighbours
// nearest to xval under weights w at `scale`; returns the entry's index. A
// group whose distances are all non-finite (a non-finite input, where ggml
// aborts) gets the first neighbour.
inline int nearest_neighbour(const IqSearch& g, uint32_t key, const float* xval, const float* w, float scale,
                             int8_t* L) {
  const auto candidates = g.neighbours(key);
  float best_d2 = FLT_MAX;
  int best = candidates[0];
  for (const uint16_t c : candidates) {
    const uint8_t* e = g.entry(c);
    float d2 = 0;
    for (int i = 0; i < g.dims; ++i) {
      const float q = float(2 * e[i] + 1);
      const float diff = scale * q - xval[i];
      d2 += w[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = c;
    }
  }
  for (int i = 0; i < g.dims; ++i) L[i] = static_cast<int8_t>(g.entry(best)[i]);
  return best;
}

// The codebook index of levels L, which are always an entry by now.
inline int entry_index(const IqSearch& g, const int8_t* L) { return g.index_of(g.key_of(L)); }

// How a block's scale is searched (ggml's constants differ per type).
struct ScaleSearch {
  IqGrid grid;
  int kmax;    // levels 0..kmax-1 (ggml's kMaxQ)
  int steps;   // candidate inverse scales (2 kmax - 1 + is * step) / max, is in [-steps, steps]
  float step;
  // After the fan, the levels are redone at the winning scale for: the
  // groups that were not on the codebook; all groups, if any was not; or
  // all groups, always.
  enum class Refit { OffGrid, AllIfAnyOff, All } refit;
};

// Sums of w*x*q and w*q^2 over n magnitudes with q = 2l + 1.
inline void level_sums(int n, const float* w, const float* xval, const int8_t* L, float& sumqx, float& sumq2) {
  sumqx = sumq2 = 0;
  for (int i = 0; i < n; ++i) {
    const float q = float(2 * L[i] + 1);
    sumqx += w[i] * xval[i] * q;
    sumq2 += w[i] * q * q;
  }
}

// Finds the scale of one block of n magnitudes xval (weights w, and their
// square roots waux for the neighbour search) and its levels L, each group
// on the codebook. max: the magnitude the candidate scales are spread
// around; scale: the answer when no candidate fits (L is then all 0). Each candidate's levels
// are rounded, snapped to the codebook, and scored by (sum w x q)^2 / sum w q^2;
// the best gives the least-squares scale, with the refit of `p.refit`.
inline float search_scale(const ScaleSearch& p, int n, const float* xval, const float* w, const float* waux,
                          float max, float scale, int8_t* L) {
  const IqSearch& g = iq_search(p.grid);
  const int groups = n / g.dims;
  bool on_grid[8], on_grid_try[8];
  for (int k = 0; k < groups; ++k) on_grid[k] = p.refit != ScaleSearch::Refit::AllIfAnyOff;
  int8_t Ltry[32];
  std::fill(L, L + n, int8_t{0});
  float best = 0;
  for (int is = -p.steps; is <= p.steps; ++is) {
    const float id = (float(2 * p.kmax - 1) + float(is) * p.step) / max;
    const float this_scale = 1 / id;
    for (int k = 0; k < groups; ++k) {
      int8_t* l = Ltry + g.dims * k;
      for (int i = 0; i < g.dims; ++i) l[i] = level_of(id, xval[g.dims * k + i], p.kmax);
      const uint32_t key = g.key_of(l);
      on_grid_try[k] = g.index_of(key) >= 0;
      if (!on_grid_try[k]) nearest_neighbour(g, key, xval + g.dims * k, waux + g.dims * k, this_scale, l);
    }
    float sumqx, sumq2;
    level_sums(n, w, xval, Ltry, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::copy(Ltry, Ltry + n, L);
      std::copy(on_grid_try, on_grid_try + groups, on_grid);
    }
  }
  bool any_off = false;
  for (int k = 0; k < groups; ++k) any_off |= !on_grid[k];
  if (!(scale > 0) || !(any_off || p.refit == ScaleSearch::Refit::All)) return scale;
  const float id = 1 / scale;
  for (int k = 0; k < groups; ++k) {
    if (p.refit == ScaleSearch::Refit::OffGrid && on_grid[k]) continue;
    int8_t* l = L + g.dims * k;
    for (int i = 0; i < g.dims; ++i) l[i] = level_of(id, xval[g.dims * k + i], p.kmax);
    const uint32_t key = g.key_of(l);
    if (g.index_of(key) < 0) nearest_neighbour(g, key, xval + g.dims * k, waux + g.dims * k, scale, l);
  }
  float sumqx, sumq2;
  level_sums(n, w, xval, L, sumqx, sumq2);
  if (sumq2 > 0) scale = sumqx / sumq2;
  return scale;
}

// ggml asserts an importance vector for IQ2_XXS, IQ2_XS and IQ1_S.
inline void require_imatrix(const float* imatrix, const char* type) {
  if (!imatrix)
    throw Error(ErrorKind::Usage, std::string("quantizing to ") + type +
                                      " needs an importance matrix (--imatrix): ggml's quantizer refuses without one");
}

}  // namespace qkv::quant::iq
