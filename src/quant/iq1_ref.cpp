// The 1.5- and 1.75-bit codebook quantizers IQ1_S and IQ1_M (layouts in
// quant/blocks.h, decoding in iq_dequant_ref.cpp). Each group of 8 values is
// an entry of a codebook of 2048 vectors of -1, 0, 1, shifted by +-delta:
//
//   IQ1_S  per 32: 4 x 11-bit index, a 3-bit scale, one shift sign; fp16 d
//   IQ1_M  per 16: 2 x 11-bit index, a 3-bit scale, a shift sign per 8;
//          the fp16 d is spread over the top nibbles of the scales
//
// x ~ d (2l + 1) (g + shift). They follow ggml's quantize_row_iq1_{s,m}_impl
// with its float order. With only three levels the best split of a block
// into levels is found exhaustively: sorted by value, every pair of cut
// points (i1, i2) puts the elements below i1 at -1, those up to i2 at 0 and
// the rest at +1, and the split maximising (sum w x q)^2 / sum w q^2 wins.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "qkv/fp16.h"
#include "quant/blocks.h"
#include "quant/iq_common.h"
#include "quant/ref.h"

namespace qkv::quant {
namespace {

using detail::nearest_int;
using detail::store_half;
using detail::store_u16;
using iq::max_of;

constexpr float kDelta = 0.125f;  // ggml's IQ1S_DELTA and IQ1M_DELTA
// The values of levels 0, 1, 2 under a positive and a negative shift.
constexpr float kShiftUp[3] = {-1 + kDelta, kDelta, 1 + kDelta};
constexpr float kShiftDown[3] = {-1 - kDelta, -kDelta, 1 - kDelta};
constexpr float kIq1sGroupEps = 1e-12f, kIq1mGroupEps = 1e-7f;  // ggml's GROUP_MAX_EPS_IQ1_{S,M}

// Element indices of x[0..n) in ascending order of value, equal values in
// index order (ggml sorts with glibc's qsort, a stable merge sort here).
template <int n>
void sort_order(const float* x, int* order) {
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order, order + n, [&](int a, int b) { return x[a] < x[b]; });
}

float largest_magnitude(const float* x, int n) {
  float max = std::fabs(x[0]);
  for (int i = 1; i < n; ++i) max = max_of(max, std::fabs(x[i]));
  return max;
}

// The levels of the split (i1, i2) of `order`.
void split_levels(const int* order, int n, int i1, int i2, int8_t* L) {
  for (int j = 0; j < n; ++j) L[order[j]] = static_cast<int8_t>(j < i1 ? 0 : j < i2 ? 1 : 2);
}

// The entry among the neighbours of `key` nearest to x under weights w with
// coordinates scale * value[l]; sets L to its levels. As in iq_common.h's
// nearest_neighbour, an all non-finite distance gives the first neighbour
// (ggml's fallback there reads out of bounds).
int nearest_neighbour(const IqSearch& g, uint32_t key, const float* x, const float* w, float scale,
                      const float* value, int8_t* L) {
  const auto candidates = g.neighbours(key);
  float best_d2 = FLT_MAX;
  int best = candidates[0];
  for (const uint16_t c : candidates) {
    const uint8_t* e = g.entry(c);
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      const float diff = scale * value[e[i]] - x[i];
      d2 += w[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = c;
    }
  }
  for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>(g.entry(best)[i]);
  return best;
}

// Snaps the groups of 8 levels of a block onto the codebook (the values of
// group k are value_of(k)) and refits the scale when any group moved.
template <class ValueOf>
void snap_to_grid(const float* xb, const float* w, int n, int8_t* L, ValueOf value_of, float& scale, int* index) {
  const IqSearch& g = iq_search(IqGrid::Iq1s);
  bool all_on_grid = true;
  for (int k = 0; k < n / 8; ++k) {
    const uint32_t key = g.key_of(L + 8 * k);
    index[k] = g.index_of(key);
    if (index[k] < 0) {
      all_on_grid = false;
      index[k] = nearest_neighbour(g, key, xb + 8 * k, w + 8 * k, scale, value_of(k), L + 8 * k);
    }
  }
  if (all_on_grid) return;
  float sumqx = 0, sumq2 = 0;
  for (int k = 0; k < n / 8; ++k) {
    const float* value = value_of(k);
    for (int j = 0; j < 8; ++j) {
      const float q = value[g.entry(index[k])[j]];
      sumqx += w[8 * k + j] * q * xb[8 * k + j];
      sumq2 += w[8 * k + j] * q * q;
    }
  }
  if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
}

// ---- IQ1_S ------------------------------------------------------------------

// One block of 32 under one shift for every element; returns false for a
// block that stays empty (scale 0).
bool quantize_iq1_s_block32(const float* xb, const float* w, float& scale, int& shift, int* index) {
  constexpr int n = 32;
  const float max = largest_magnitude(xb, n);
  if (max < kIq1sGroupEps) return false;
  int order[n];
  sort_order<n>(xb, order);
  float sumx[n + 1], sumw[n + 1];  // prefix sums in sorted order
  sumx[0] = sumw[0] = 0;
  for (int j = 0; j < n; ++j) {
    const int i = order[j];
    sumx[j + 1] = sumx[j] + w[i] * xb[i];
    sumw[j + 1] = sumw[j] + w[i];
  }
  float best_score = -FLT_MAX;
  scale = max;
  int best_i1 = -1, best_i2 = -1;
  shift = 0;
  for (int i1 = 0; i1 <= n; ++i1)
    for (int i2 = i1; i2 <= n; ++i2)
      for (const float* t : {kShiftUp, kShiftDown}) {
        const float sumqx = (sumx[i1] - sumx[0]) * t[0] + (sumx[i2] - sumx[i1]) * t[1] + (sumx[n] - sumx[i2]) * t[2];
        const float sumq2 = (sumw[i1] - sumw[0]) * t[0] * t[0] + (sumw[i2] - sumw[i1]) * t[1] * t[1] +
                            (sumw[n] - sumw[i2]) * t[2] * t[2];
        if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
          scale = sumqx / sumq2;
          best_score = scale * sumqx;
          best_i1 = i1;
          best_i2 = i2;
          shift = t == kShiftUp ? 1 : -1;
        }
      }
  if (best_i1 < 0) return false;
  int8_t L[n];
  split_levels(order, n, best_i1, best_i2, L);
  if (scale < 0) {  // mirror the levels and the shift
    for (int8_t& l : L) l = static_cast<int8_t>(2 - l);
    scale = -scale;
    shift = -shift;
  }
  const float* value = shift == 1 ? kShiftUp : kShiftDown;
  snap_to_grid(xb, w, n, L, [&](int) { return value; }, scale, index);
  return true;
}

void quantize_iq1_s_block(const float* x, const float* qw, block_iq1_s& out) {
  constexpr int kBlock = 32;
  const float sigma2 = 2 * detail::sum_squares(x, QK_K) / QK_K;
  std::memset(&out, 0, sizeof out);
  uint16_t qh[QK_K / kBlock] = {};
  float scales[QK_K / kBlock];
  int shifts[QK_K / kBlock];
  float max_scale = 0;
  for (int ib = 0; ib < QK_K / kBlock; ++ib) {
    const float* xb = x + kBlock * ib;
    float w[kBlock];
    for (int i = 0; i < kBlock; ++i) w[i] = qw[kBlock * ib + i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    int index[4];
    if (!quantize_iq1_s_block32(xb, w, scales[ib], shifts[ib], index)) {
      scales[ib] = 0;
      shifts[ib] = 1;
      continue;
    }
    for (int k = 0; k < 4; ++k) {
      out.qs[4 * ib + k] = static_cast<uint8_t>(index[k] & 255);
      qh[ib] = static_cast<uint16_t>(qh[ib] | (index[k] >> 8) << 3 * k);
    }
    max_scale = max_of(max_scale, scales[ib]);
  }
  if (max_scale) {
    const float d = max_scale / 15;
    store_half(out.d, d * 1.125f);  // ggml's fudge factor
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / kBlock; ++ib) {
      int l = std::max(0, std::min(7, nearest_int(0.5f * (id * scales[ib] - 1))));
      if (shifts[ib] == -1) l |= 8;
      qh[ib] = static_cast<uint16_t>(qh[ib] | l << 12);
    }
  }
  for (int ib = 0; ib < QK_K / kBlock; ++ib) store_u16(out.qh + 2 * ib, qh[ib]);
}

// ---- IQ1_M ------------------------------------------------------------------

// IQ1_M's shifts: bit 1 for the first 8 elements of a block, bit 0 for the
// last 8 (set: the negative shift), as ggml numbers its four cases.
const float* shift_values(int shifts, int half) {
  return (half == 0 ? shifts >> 1 : shifts & 1) ? kShiftDown : kShiftUp;
}

// One block of 16 with a shift per half; returns false for a block that
// stays empty (scale 0). For each split the four shift cases are summed
// element by element, in sorted order, as ggml does.
bool quantize_iq1_m_block16(const float* xb, const float* w, float& scale, int& shifts, int* index) {
  constexpr int n = 16;
  const float max = largest_magnitude(xb, n);
  if (max < kIq1mGroupEps) return false;
  int order[n];
  sort_order<n>(xb, order);
  float best_score = -FLT_MAX;
  scale = max;
  int best_i1 = -1, best_i2 = -1;
  shifts = -1;
  for (int i1 = 0; i1 <= n; ++i1)
    for (int i2 = i1; i2 <= n; ++i2) {
      float sumqx[4] = {}, sumq2[4] = {};
      for (int j = 0; j < n; ++j) {
        const int i = order[j], level = j < i1 ? 0 : j < i2 ? 1 : 2;
        for (int k = 0; k < 4; ++k) {
          const float q = shift_values(k, i < n / 2 ? 0 : 1)[level];
          sumqx[k] += w[i] * q * xb[i];
          sumq2[k] += w[i] * q * q;
        }
      }
      for (int k = 0; k < 4; ++k)
        if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
          scale = sumqx[k] / sumq2[k];
          best_score = scale * sumqx[k];
          best_i1 = i1;
          best_i2 = i2;
          shifts = k;
        }
    }
  if (shifts < 0) return false;
  int8_t L[n];
  split_levels(order, n, best_i1, best_i2, L);
  if (scale < 0) {  // mirror the levels and both shifts
    for (int8_t& l : L) l = static_cast<int8_t>(2 - l);
    scale = -scale;
    shifts = 3 - shifts;
  }
  snap_to_grid(xb, w, n, L, [&](int k) { return shift_values(shifts, k); }, scale, index);
  return true;
}

void quantize_iq1_m_block(const float* x, const float* qw, block_iq1_m& out) {
  constexpr int kBlock = 16;
  constexpr uint8_t kShiftMasks[4] = {0x00, 0x80, 0x08, 0x88};  // qh bits of the negative shifts
  const float sigma2 = 2 * detail::sum_squares(x, QK_K) / QK_K;
  float w[QK_K];
  for (int i = 0; i < QK_K; ++i) w[i] = qw ? qw[i] * std::sqrt(sigma2 + x[i] * x[i]) : x[i] * x[i];
  std::memset(&out, 0, sizeof out);
  float scales[QK_K / kBlock];
  int shifts[QK_K / kBlock];
  float max_scale = 0;
  for (int ib = 0; ib < QK_K / kBlock; ++ib) {
    int index[2];
    if (!quantize_iq1_m_block16(x + kBlock * ib, w + kBlock * ib, scales[ib], shifts[ib], index)) {
      scales[ib] = 0;
      shifts[ib] = 0;
      continue;
    }
    out.qs[2 * ib] = static_cast<uint8_t>(index[0] & 255);
    out.qs[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
    out.qh[ib] = static_cast<uint8_t>((index[0] >> 8) | (index[1] >> 8) << 4);
    max_scale = max_of(max_scale, scales[ib]);
  }
  if (!max_scale) return;

  // The 3-bit block scales, then d refitted by least squares over the
  // stored blocks (empty ones included, as entry 0 at scale 1).
  const IqSearch& g = iq_search(IqGrid::Iq1s);
  uint16_t sc[4] = {};
  float d = max_scale / 15;
  const float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int ib = 0; ib < QK_K / kBlock; ++ib) {
    const int l = std::max(0, std::min(7, nearest_int(0.5f * (id * scales[ib] - 1))));
    sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | l << 3 * (ib % 4));
    out.qh[ib] |= kShiftMasks[shifts[ib]];
    for (int k = 0; k < 2; ++k) {
      const float* value = shift_values(shifts[ib], k);
      const uint8_t* e = g.entry(out.qs[2 * ib + k] + ((out.qh[ib] << (8 - 4 * k)) & 0x700));
      for (int j = 0; j < 8; ++j) {
        const int i = kBlock * ib + 8 * k + j;
        const float q = value[e[j]] * float(2 * l + 1);
        sumqx += w[i] * q * x[i];
        sumq2 += w[i] * q * q;
      }
    }
  }
  if (sumq2 > 0) d = sumqx / sumq2;
  const uint16_t dh = fp32_to_fp16(d * 1.1125f);  // ggml's fudge factor
  sc[0] = static_cast<uint16_t>(sc[0] | (dh & 0x000f) << 12);
  sc[1] = static_cast<uint16_t>(sc[1] | (dh & 0x00f0) << 8);
  sc[2] = static_cast<uint16_t>(sc[2] | (dh & 0x0f00) << 4);
  sc[3] = static_cast<uint16_t>(sc[3] | (dh & 0xf000));
  for (int k = 0; k < 4; ++k) store_u16(out.scales + 2 * k, sc[k]);
}

}  // namespace

void quantize_row_iq1_s_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  iq::require_imatrix(imatrix, "IQ1_S");
  auto* b = static_cast<block_iq1_s*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_iq1_s_block(x + i * QK_K, imatrix + i * QK_K, b[i]);
}

void quantize_row_iq1_m_ref(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* b = static_cast<block_iq1_m*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_iq1_m_block(x + i * QK_K, imatrix ? imatrix + i * QK_K : nullptr, b[i]);
}

}  // namespace qkv::quant
