// Scalar reference dot products, one per weight type: the readable definition
// of each kernel, with the arithmetic of ggml's ggml_vec_dot_<w>_<a>_generic
// (quants.c): an exact integer sum per block or sub-block, times the scales
// in float. The SIMD kernels (vec_dot_avx2.cpp, vec_dot_avx512.cpp) must equal these up to the
// order of float additions. quant/traits.cpp says which type uses which.
//
// The block layouts, and what each level means, are in quant/blocks.h.
#include <cstring>
#include <type_traits>

#include "quant/blocks.h"
#include "runtime/vec_dot_kernels.h"

namespace qkv::ops {
namespace {

using detail::load_half;

// sum of v[j] * q8[j] over n elements; q8 are the signed activation levels.
int dot_levels(const int* v, const int8_t* q8, int n) {
  int sum = 0;
  for (int j = 0; j < n; ++j) sum += v[j] * q8[j];
  return sum;
}

// ---- 32-element blocks against Q8_0 / Q8_1 ----------------------------------

// The 32 unsigned nibbles of qs[16], in element order.
void unpack_nibbles(const uint8_t* qs, int* v) {
  for (int j = 0; j < QK / 2; ++j) {
    v[j] = qs[j] & 0xF;
    v[j + QK / 2] = qs[j] >> 4;
  }
}
// Adds 16 to element j where bit j of the little-endian qh word is set.
void add_fifth_bits(const uint8_t* qh, int* v) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  for (int j = 0; j < QK; ++j) v[j] += static_cast<int>((h >> j) & 1) << 4;
}
void add_offset(int* v, int offset) {
  for (int j = 0; j < QK; ++j) v[j] += offset;
}

// Symmetric weights against Q8_0: per block (d_w * d_a) * sum of level products.
template <typename Block, void (*levels)(const Block&, int*)>
float dot_symmetric(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const block_q8_0*>(a);
  float sumf = 0;
  for (int64_t i = 0; i < n / QK; ++i, ++x, ++y) {
    int v[QK];
    levels(*x, v);
    sumf += (load_half(x->d) * load_half(y->d)) * static_cast<float>(dot_levels(v, y->qs, QK));
  }
  return sumf;
}

// Weights with an offset m against Q8_1, whose s = d_a * sum(q_a) turns the
// offset's contribution into one product per block: sum((d q + m) a) = d d_a sum(q q_a) + m s.
template <typename Block, void (*levels)(const Block&, int*)>
float dot_with_min(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const block_q8_1*>(a);
  float sumf = 0;
  for (int64_t i = 0; i < n / QK; ++i, ++x, ++y) {
    int v[QK];
    levels(*x, v);
    sumf += (load_half(x->d) * load_half(y->d)) * static_cast<float>(dot_levels(v, y->qs, QK)) +
            load_half(x->m) * load_half(y->s);
  }
  return sumf;
}

void levels_q4_0(const block_q4_0& b, int* v) {
  unpack_nibbles(b.qs, v);
  add_offset(v, -8);
}
void levels_q4_1(const block_q4_1& b, int* v) { unpack_nibbles(b.qs, v); }
void levels_q5_0(const block_q5_0& b, int* v) {
  unpack_nibbles(b.qs, v);
  add_fifth_bits(b.qh, v);
  add_offset(v, -16);
}
void levels_q5_1(const block_q5_1& b, int* v) {
  unpack_nibbles(b.qs, v);
  add_fifth_bits(b.qh, v);
}
void levels_q8_0(const block_q8_0& b, int* v) {
  for (int j = 0; j < QK; ++j) v[j] = b.qs[j];
}
void levels_iq4_nl(const block_iq4_nl& b, int* v) {
  unpack_nibbles(b.qs, v);
  for (int j = 0; j < QK; ++j) v[j] = kIq4nlValues[v[j]];
}

// ---- super-blocks of 256 against Q8_K -----------------------------------------

// A Q8_K activation block, its fields decoded.
struct Q8K {
  float d;
  const int8_t* qs;
  int16_t bsums[QK_K / 16];
  explicit Q8K(const block_q8_K& b) : qs(b.qs) {
    std::memcpy(&d, b.d, 4);
    std::memcpy(bsums, b.bsums, sizeof bsums);
  }
};

// Q2_K: element 32 g + l (g = 0..7) is bits 2 (g % 4) of qs[32 (g / 4) + l].
float dot_q2_K(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q2_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i, ++x, ++y) {
    const Q8K q8(*y);
    const uint8_t *sc = x->scales, *qs = x->qs;
    int v[QK_K];
    for (int g = 0; g < 8; ++g)
      for (int l = 0; l < 32; ++l) v[32 * g + l] = (qs[32 * (g / 4) + l] >> (2 * (g % 4))) & 3;
    int isum = 0, summs = 0;  // scaled levels; mins times the activation sums
    for (int s = 0; s < QK_K / 16; ++s) {
      isum += (sc[s] & 0xF) * dot_levels(v + 16 * s, q8.qs + 16 * s, 16);
      summs += (sc[s] >> 4) * q8.bsums[s];
    }
    const float dall = q8.d * load_half(x->d), dmin = q8.d * load_half(x->dmin);
    sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

// Q3_K: as Q2_K for the low 2 bits; bit g of hmask[l] is the high bit of
// element 32 g + l, and a clear high bit subtracts 4.
float dot_q3_K(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q3_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i, ++x, ++y) {
    const Q8K q8(*y);
    const uint8_t *hmask = x->hmask, *qs = x->qs;
    int8_t scales[16];
    unpack_scales_q3_K(x->scales, scales);
    int v[QK_K];
    for (int g = 0; g < 8; ++g)
      for (int l = 0; l < 32; ++l)
        v[32 * g + l] = ((qs[32 * (g / 4) + l] >> (2 * (g % 4))) & 3) - ((hmask[l] >> g) & 1 ? 0 : 4);
    int isum = 0;
    for (int s = 0; s < QK_K / 16; ++s) isum += scales[s] * dot_levels(v + 16 * s, q8.qs + 16 * s, 16);
    sumf += load_half(x->d) * q8.d * static_cast<float>(isum);
  }
  return sumf;
}

// Q4_K / Q5_K: 64 elements per 32 bytes of qs, low nibbles first; Q5_K's qh
// bit 2 j (2 j + 1) of byte l is the fifth bit of element 64 j + l (+ 32).
template <typename Block>
float dot_q45_K(const void* w, const void* a, int64_t n) {
  constexpr bool kFifthBit = std::is_same_v<Block, block_q5_K>;
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i, ++x, ++y) {
    const Q8K q8(*y);
    const uint8_t* qs = x->qs;
    uint8_t scales[8], mins[8];
    unpack_scales_mins_k4(x->scales, scales, mins);
    int v[QK_K];
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        v[64 * j + l] = qs[32 * j + l] & 0xF;
        v[64 * j + 32 + l] = qs[32 * j + l] >> 4;
        if constexpr (kFifthBit) {
          v[64 * j + l] += ((x->qh[l] >> (2 * j)) & 1) << 4;
          v[64 * j + 32 + l] += ((x->qh[l] >> (2 * j + 1)) & 1) << 4;
        }
      }
    int isum = 0, summs = 0;
    for (int b = 0; b < 8; ++b) isum += scales[b] * dot_levels(v + 32 * b, q8.qs + 32 * b, 32);
    for (int s = 0; s < QK_K / 16; ++s) summs += mins[s / 2] * q8.bsums[s];
    sumf += load_half(x->d) * q8.d * static_cast<float>(isum) - load_half(x->dmin) * q8.d * static_cast<float>(summs);
  }
  return sumf;
}

// Q6_K: per 128 elements, 64 bytes of ql and 32 of qh. Element 32 g + l
// (g = 0..3) takes the low (g < 2) or high nibble of ql[l + 32 (g % 2)] and
// bits 2 g, 2 g + 1 of qh[l]; levels are biased by 32.
float dot_q6_K(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_q6_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i, ++x, ++y) {
    const Q8K q8(*y);
    int v[QK_K];
    for (int c = 0; c < 2; ++c) {
      const uint8_t *ql = x->ql + 64 * c, *qh = x->qh + 32 * c;
      for (int g = 0; g < 4; ++g)
        for (int l = 0; l < 32; ++l) {
          const int nibble = g < 2 ? ql[l + 32 * (g % 2)] & 0xF : ql[l + 32 * (g % 2)] >> 4;
          v[128 * c + 32 * g + l] = (nibble | ((qh[l] >> (2 * g)) & 3) << 4) - 32;
        }
    }
    int isum = 0;
    for (int s = 0; s < QK_K / 16; ++s) isum += x->scales[s] * dot_levels(v + 16 * s, q8.qs + 16 * s, 16);
    sumf += load_half(x->d) * q8.d * static_cast<float>(isum);
  }
  return sumf;
}

// IQ4_XS: eight 32-element blocks, each an IQ4_NL block with a 6-bit scale
// instead of its own d; as in ggml, each block's scale is applied in float.
float dot_iq4_xs(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const block_iq4_xs*>(w);
  const auto* y = static_cast<const block_q8_K*>(a);
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i, ++x, ++y) {
    const Q8K q8(*y);
    const float d4d8 = load_half(x->d) * q8.d;
    for (int ib = 0; ib < QK_K / QK; ++ib) {
      int v[QK];
      unpack_nibbles(x->qs + 16 * ib, v);
      for (int& e : v) e = kIq4nlValues[e];
      const float dl = d4d8 * static_cast<float>(iq4_xs_scale(*x, ib) - 32);
      sumf += dl * static_cast<float>(dot_levels(v, q8.qs + QK * ib, QK));
    }
  }
  return sumf;
}

// ---- 16- and 32-bit floats: float products summed in double, as ggml's generic code --

// Weights of kW bytes read by w_at, activations of kA bytes read by a_at.
template <float (*w_at)(const uint8_t*), int kW, float (*a_at)(const uint8_t*), int kA>
float dot_float(const void* w, const void* a, int64_t n) {
  const auto *x = static_cast<const uint8_t*>(w), *y = static_cast<const uint8_t*>(a);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += w_at(x + kW * i) * a_at(y + kA * i);
  return static_cast<float>(sum);
}
float bf16_at(const uint8_t* p) { return bf16_to_fp32(static_cast<uint16_t>(p[0] | p[1] << 8)); }
float f32_at(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

}  // namespace

namespace ref {

float f32(const void* w, const void* a, int64_t n) { return dot_float<f32_at, 4, f32_at, 4>(w, a, n); }
float f16(const void* w, const void* a, int64_t n) { return dot_float<load_half, 2, f32_at, 4>(w, a, n); }
float bf16(const void* w, const void* a, int64_t n) { return dot_float<bf16_at, 2, bf16_at, 2>(w, a, n); }
float q4_0(const void* w, const void* a, int64_t n) { return dot_symmetric<block_q4_0, levels_q4_0>(w, a, n); }
float q4_1(const void* w, const void* a, int64_t n) { return dot_with_min<block_q4_1, levels_q4_1>(w, a, n); }
float q5_0(const void* w, const void* a, int64_t n) { return dot_symmetric<block_q5_0, levels_q5_0>(w, a, n); }
float q5_1(const void* w, const void* a, int64_t n) { return dot_with_min<block_q5_1, levels_q5_1>(w, a, n); }
float q8_0(const void* w, const void* a, int64_t n) { return dot_symmetric<block_q8_0, levels_q8_0>(w, a, n); }
float iq4_nl(const void* w, const void* a, int64_t n) { return dot_symmetric<block_iq4_nl, levels_iq4_nl>(w, a, n); }
float q2_K(const void* w, const void* a, int64_t n) { return dot_q2_K(w, a, n); }
float q3_K(const void* w, const void* a, int64_t n) { return dot_q3_K(w, a, n); }
float q4_K(const void* w, const void* a, int64_t n) { return dot_q45_K<block_q4_K>(w, a, n); }
float q5_K(const void* w, const void* a, int64_t n) { return dot_q45_K<block_q5_K>(w, a, n); }
float q6_K(const void* w, const void* a, int64_t n) { return dot_q6_K(w, a, n); }
float iq4_xs(const void* w, const void* a, int64_t n) { return dot_iq4_xs(w, a, n); }

}  // namespace ref
}  // namespace qkv::ops
