// SIMD building blocks for the fast quantizers (src/quant/fast_*.cpp), x86 AVX2.
//
// The fast quantizers must equal the scalar references bit for bit, so they
// vectorise ACROSS blocks: each of 16 lanes runs one block through exactly the
// reference's scalar sequence of float operations, with branches turned into
// selects. The types below give that lane-wise code the look of the scalar
// code it mirrors: Vf (16 floats), Vi (16 int32) and Mask (16 true/false) with
// the usual operators. Only IEEE-exact instructions are used (add, mul, div,
// sqrt are correctly rounded in SIMD too); nothing here fuses a multiply and
// an add, and src/quant is compiled with -ffp-contract=off so the compiler
// does not either.
//
// A value is two AVX2 registers. 16 lanes rather than 8 because the searches
// are chains of dependent adds (running sums in the reference's order): with
// two independent registers per operation the CPU overlaps the chains. (One
// AVX-512 register would hold the same 16 lanes.)
//
// Everything is compiled for AVX2 through function attributes, not compiler
// flags: the build may target any x86-64, and the fast_*.cpp entry points pick
// the AVX2 code only when has_avx2() says the CPU runs it.
#pragma once

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qkv/cpu.h"
#include "quant/ref_common.h"

// QKV_AVX2 is for the kernels, whose arguments are pointers and scalars.
// Everything that takes or returns a Vf / Vi by value is QKV_AVX2_INLINE:
// besides giving straight-line code, that sidesteps GCC 12 placing a
// vzeroupper before the return of an out-of-line function whose result is a
// __m256 in a struct (which loses its upper half).
#define QKV_AVX2 __attribute__((target("avx2,fma,f16c")))
#define QKV_AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) inline
#define QKV_AVX2_LAMBDA __attribute__((target("avx2,fma,f16c"), always_inline))

namespace qkv::quant::simd {

// AVX2 with FMA and F16C (qkv/cpu.h).
inline bool has_avx2() { return cpu().avx2; }

constexpr int kLanes = 16;

// Lanes 0..7 in lo, 8..15 in hi.
struct Vf {
  __m256 lo, hi;
};
struct Vi {
  __m256i lo, hi;
};
struct Mask {
  __m256 lo, hi;  // all bits of a lane set (true) or clear (false)
};

// Applies a two-operand AVX2 intrinsic to both halves.
#define QKV_BOTH(T, f, a, b) \
  T { f((a).lo, (b).lo), f((a).hi, (b).hi) }

// ---- construction, loads, stores -------------------------------------------

QKV_AVX2_INLINE Vf splat(float x) { return {_mm256_set1_ps(x), _mm256_set1_ps(x)}; }
// a in lanes 0..7, b in lanes 8..15.
QKV_AVX2_INLINE Vf splat_halves(float a, float b) { return {_mm256_set1_ps(a), _mm256_set1_ps(b)}; }
QKV_AVX2_INLINE Vi splat_i(int x) { return {_mm256_set1_epi32(x), _mm256_set1_epi32(x)}; }
QKV_AVX2_INLINE Vf load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
QKV_AVX2_INLINE void store(float* p, Vf a) {
  _mm256_storeu_ps(p, a.lo);
  _mm256_storeu_ps(p + 8, a.hi);
}
QKV_AVX2_INLINE void store(int32_t* p, Vi a) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a.lo);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 8), a.hi);
}

// ---- float lanes -------------------------------------------------------------

QKV_AVX2_INLINE Vf operator+(Vf a, Vf b) { return QKV_BOTH(Vf, _mm256_add_ps, a, b); }
QKV_AVX2_INLINE Vf operator-(Vf a, Vf b) { return QKV_BOTH(Vf, _mm256_sub_ps, a, b); }
QKV_AVX2_INLINE Vf operator*(Vf a, Vf b) { return QKV_BOTH(Vf, _mm256_mul_ps, a, b); }
QKV_AVX2_INLINE Vf operator/(Vf a, Vf b) { return QKV_BOTH(Vf, _mm256_div_ps, a, b); }
QKV_AVX2_INLINE Vf operator-(Vf a) { return QKV_BOTH(Vf, _mm256_xor_ps, a, splat(-0.0f)); }
QKV_AVX2_INLINE Vf abs(Vf a) { return QKV_BOTH(Vf, _mm256_andnot_ps, splat(-0.0f), a); }
QKV_AVX2_INLINE Vf sqrt(Vf a) { return {_mm256_sqrt_ps(a.lo), _mm256_sqrt_ps(a.hi)}; }
// For order-free max / min reductions of non-NaN values; between +0 and -0
// either may come out.
QKV_AVX2_INLINE Vf max(Vf a, Vf b) { return QKV_BOTH(Vf, _mm256_max_ps, a, b); }
QKV_AVX2_INLINE Vf min(Vf a, Vf b) { return QKV_BOTH(Vf, _mm256_min_ps, a, b); }

// Comparisons with C++'s meaning, NaN included: only != is true for a NaN.
#define QKV_CMP(a, b, pred) \
  Mask { _mm256_cmp_ps((a).lo, (b).lo, pred), _mm256_cmp_ps((a).hi, (b).hi, pred) }
QKV_AVX2_INLINE Mask operator<(Vf a, Vf b) { return QKV_CMP(a, b, _CMP_LT_OQ); }
QKV_AVX2_INLINE Mask operator<=(Vf a, Vf b) { return QKV_CMP(a, b, _CMP_LE_OQ); }
QKV_AVX2_INLINE Mask operator>(Vf a, Vf b) { return QKV_CMP(a, b, _CMP_GT_OQ); }
QKV_AVX2_INLINE Mask operator==(Vf a, Vf b) { return QKV_CMP(a, b, _CMP_EQ_OQ); }
QKV_AVX2_INLINE Mask operator!=(Vf a, Vf b) { return QKV_CMP(a, b, _CMP_NEQ_UQ); }
// !(a < b) in one instruction: true for a NaN.
QKV_AVX2_INLINE Mask not_less(Vf a, Vf b) { return QKV_CMP(a, b, _CMP_NLT_UQ); }
#undef QKV_CMP

// std::round: halfway cases away from zero. a - trunc(a) is exact, and so is
// trunc(a) +- 1 wherever the fraction is non-zero; infinities and NaN pass.
QKV_AVX2_INLINE __m256 round_half_away(__m256 a) {
  const __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(a, t));
  const __m256 one = _mm256_or_ps(_mm256_and_ps(a, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));  // +-1 as a
  const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), one);
  return _mm256_add_ps(t, step);
}
QKV_AVX2_INLINE Vf round_half_away(Vf a) { return {round_half_away(a.lo), round_half_away(a.hi)}; }

// Horizontal maximum / minimum of the lanes (order-free; the sign of a zero
// result is unspecified).
QKV_AVX2_INLINE float reduce_max(Vf a) {
  const __m256 m8 = _mm256_max_ps(a.lo, a.hi);
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
QKV_AVX2_INLINE float reduce_min(Vf a) {
  const __m256 m8 = _mm256_min_ps(a.lo, a.hi);
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
}

// ---- masks -------------------------------------------------------------------

QKV_AVX2_INLINE Mask operator&(Mask a, Mask b) { return QKV_BOTH(Mask, _mm256_and_ps, a, b); }
QKV_AVX2_INLINE Mask operator|(Mask a, Mask b) { return QKV_BOTH(Mask, _mm256_or_ps, a, b); }
QKV_AVX2_INLINE Mask operator!(Mask a) {
  const __m256 ones = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  return {_mm256_xor_ps(a.lo, ones), _mm256_xor_ps(a.hi, ones)};
}
QKV_AVX2_INLINE Mask none_set() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
// Bit k set where lane k is true.
QKV_AVX2_INLINE uint32_t bits(Mask m) {
  return static_cast<uint32_t>(_mm256_movemask_ps(m.lo)) | static_cast<uint32_t>(_mm256_movemask_ps(m.hi)) << 8;
}
QKV_AVX2_INLINE bool any(Mask m) { return !_mm256_testz_ps(_mm256_or_ps(m.lo, m.hi), _mm256_or_ps(m.lo, m.hi)); }
// m ? a : b, lane by lane.
QKV_AVX2_INLINE Vf select(Mask m, Vf a, Vf b) {
  return {_mm256_blendv_ps(b.lo, a.lo, m.lo), _mm256_blendv_ps(b.hi, a.hi, m.hi)};
}
QKV_AVX2_INLINE __m256i select(__m256 m, __m256i a, __m256i b) {
  return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m));
}
QKV_AVX2_INLINE Vi select(Mask m, Vi a, Vi b) { return {select(m.lo, a.lo, b.lo), select(m.hi, a.hi, b.hi)}; }
// -1 where true, 0 where false.
QKV_AVX2_INLINE Vi as_int(Mask m) { return {_mm256_castps_si256(m.lo), _mm256_castps_si256(m.hi)}; }

// ---- int32 lanes ---------------------------------------------------------------

QKV_AVX2_INLINE Vi operator+(Vi a, Vi b) { return QKV_BOTH(Vi, _mm256_add_epi32, a, b); }
QKV_AVX2_INLINE Vi operator-(Vi a, Vi b) { return QKV_BOTH(Vi, _mm256_sub_epi32, a, b); }
QKV_AVX2_INLINE Vi operator*(Vi a, Vi b) { return QKV_BOTH(Vi, _mm256_mullo_epi32, a, b); }
QKV_AVX2_INLINE Vi operator&(Vi a, Vi b) { return QKV_BOTH(Vi, _mm256_and_si256, a, b); }
QKV_AVX2_INLINE Vi operator|(Vi a, Vi b) { return QKV_BOTH(Vi, _mm256_or_si256, a, b); }
QKV_AVX2_INLINE Vi operator<<(Vi a, int s) { return {_mm256_slli_epi32(a.lo, s), _mm256_slli_epi32(a.hi, s)}; }
// Arithmetic, as >> of an int.
QKV_AVX2_INLINE Vi operator>>(Vi a, int s) { return {_mm256_srai_epi32(a.lo, s), _mm256_srai_epi32(a.hi, s)}; }
QKV_AVX2_INLINE Vi min(Vi a, Vi b) { return QKV_BOTH(Vi, _mm256_min_epi32, a, b); }
QKV_AVX2_INLINE Vi max(Vi a, Vi b) { return QKV_BOTH(Vi, _mm256_max_epi32, a, b); }
QKV_AVX2_INLINE Vi clamp(Vi a, int lo, int hi) { return max(splat_i(lo), min(splat_i(hi), a)); }
QKV_AVX2_INLINE Mask operator==(Vi a, Vi b) {
  return {_mm256_castsi256_ps(_mm256_cmpeq_epi32(a.lo, b.lo)), _mm256_castsi256_ps(_mm256_cmpeq_epi32(a.hi, b.hi))};
}

// ---- conversions -----------------------------------------------------------------

QKV_AVX2_INLINE Vf to_float(Vi a) { return {_mm256_cvtepi32_ps(a.lo), _mm256_cvtepi32_ps(a.hi)}; }
// static_cast<int>(float), truncating, for lanes in int range (all_int_range).
QKV_AVX2_INLINE Vi trunc_to_int(Vf a) { return {_mm256_cvttps_epi32(a.lo), _mm256_cvttps_epi32(a.hi)}; }
// detail::nearest_int lane by lane (the same 1.5 * 2^23 trick).
QKV_AVX2_INLINE Vi nearest_int(Vf a) {
  const Vf biased = a + splat(12582912.f);
  const Vi bits = {_mm256_castps_si256(biased.lo), _mm256_castps_si256(biased.hi)};
  return (bits & splat_i(0x007fffff)) - splat_i(0x00400000);
}
// Whether every lane is a float that converts to int32 without overflow
// (NaN and infinities do not). Out of range, C++ leaves the conversion
// undefined, and compilers differ in what the references then produce.
QKV_AVX2_INLINE bool all_int_range(Vf a) {
  const Mask ok = abs(a) < splat(2147483648.f);
  return bits(ok) == 0xFFFF;
}

// Bit k set where lane k has its sign bit (bit 31) set.
QKV_AVX2_INLINE uint32_t sign_bits(Vi a) { return bits(Mask{_mm256_castsi256_ps(a.lo), _mm256_castsi256_ps(a.hi)}); }

// Table lookups, idx in 0..15 / 0..7: table[idx] for a 16-entry table held as
// two registers, or an 8-entry one held in one.
QKV_AVX2_INLINE __m256 lookup16(__m256 lo, __m256 hi, __m256i idx) {
  const __m256 a = _mm256_permutevar8x32_ps(lo, idx);  // uses idx & 7
  const __m256 b = _mm256_permutevar8x32_ps(hi, idx);
  return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));  // bit 3 picks hi
}
QKV_AVX2_INLINE Vf lookup16(__m256 lo, __m256 hi, Vi idx) {
  return {lookup16(lo, hi, idx.lo), lookup16(lo, hi, idx.hi)};
}
QKV_AVX2_INLINE Vf lookup8(__m256 table, Vi idx) {
  return {_mm256_permutevar8x32_ps(table, idx.lo), _mm256_permutevar8x32_ps(table, idx.hi)};
}

// ---- moving between "one block per lane" and memory -----------------------------

// Column j of the 8 x 8 floats at rows[k * stride + j], k = 0..7: out[j] lane k.
QKV_AVX2_INLINE void transpose8x8(const float* rows, size_t stride, __m256* out) {
  __m256 r[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(rows + k * stride);
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  out[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  out[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  out[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  out[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  out[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  out[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  out[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  out[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Element j (< n, a multiple of 8) of block k (k < 16), which starts at
// x + k * stride, into out[j] lane k.
QKV_AVX2_INLINE void load_blocks(const float* x, size_t stride, int n, Vf* out) {
  for (int j = 0; j < n; j += 8) {
    __m256 lo[8], hi[8];
    transpose8x8(x + j, stride, lo);
    transpose8x8(x + 8 * stride + j, stride, hi);
    for (int c = 0; c < 8; ++c) out[j + c] = {lo[c], hi[c]};
  }
}

// The low byte of v[j] lane k to dst[k * stride + j], j < n (a multiple of 16).
QKV_AVX2_INLINE void store_lanes_u8(const Vi* v, int n, uint8_t* dst, size_t stride) {
  const Vi low = splat_i(0xFF);
  for (int j = 0; j < n; j += 16) {
    Vi w[4];  // lane k of w[q]: bytes j+4q .. j+4q+3 of lane k's row
    for (int q = 0; q < 4; ++q) {
      const Vi* p = v + j + 4 * q;
      w[q] = (p[0] & low) | (p[1] & low) << 8 | (p[2] & low) << 16 | p[3] << 24;
    }
    // 4 x 4 transposes within 128-bit halves: for lanes 8 * half + k (low
    // half of r[k]) and 8 * half + k + 4 (high half).
    for (int half = 0; half < 2; ++half) {
      const __m256i w0 = half ? w[0].hi : w[0].lo, w1 = half ? w[1].hi : w[1].lo;
      const __m256i w2 = half ? w[2].hi : w[2].lo, w3 = half ? w[3].hi : w[3].lo;
      const __m256i t0 = _mm256_unpacklo_epi32(w0, w1), t1 = _mm256_unpackhi_epi32(w0, w1);
      const __m256i t2 = _mm256_unpacklo_epi32(w2, w3), t3 = _mm256_unpackhi_epi32(w2, w3);
      const __m256i r[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2), _mm256_unpacklo_epi64(t1, t3),
                            _mm256_unpackhi_epi64(t1, t3)};
      uint8_t* d = dst + 8 * half * stride + j;
      for (int k = 0; k < 4; ++k) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + k * stride), _mm256_castsi256_si128(r[k]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (k + 4) * stride), _mm256_extracti128_si256(r[k], 1));
      }
    }
  }
}
// Lane k of v as a little-endian u32 / a ggml half at dst + k * stride.
QKV_AVX2_INLINE void store_lanes_u32(Vi v, uint8_t* dst, size_t stride) {
  alignas(32) int32_t t[kLanes];
  store(t, v);
  for (int k = 0; k < kLanes; ++k) detail::store_u32(dst + k * stride, static_cast<uint32_t>(t[k]));
}
QKV_AVX2_INLINE void store_lanes_half(Vf v, uint8_t* dst, size_t stride) {
  alignas(32) float t[kLanes];
  store(t, v);
  for (int k = 0; k < kLanes; ++k) detail::store_half(dst + k * stride, t[k]);
}

// detail::load_half with F16C: the same bits, NaNs included (both quieten them
// and keep the payload).
QKV_AVX2_INLINE float load_half(const uint8_t* p) {
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(detail::load_u16(p))));
}

// The low bytes of the 16 lanes, which must hold 0..255.
QKV_AVX2_INLINE __m128i pack_bytes(Vi a) {
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(a.lo, a.hi), 0xD8);  // lanes 0-15 as u16
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08));
}
// 16 lanes from the 16 bytes at p, as unsigned / signed integers.
QKV_AVX2_INLINE Vi widen_u8(__m128i b) { return {_mm256_cvtepu8_epi32(b), _mm256_cvtepu8_epi32(_mm_srli_si128(b, 8))}; }
QKV_AVX2_INLINE Vi load_u8(const uint8_t* p) { return widen_u8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
QKV_AVX2_INLINE Vi load_i8(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return {_mm256_cvtepi8_epi32(b), _mm256_cvtepi8_epi32(_mm_srli_si128(b, 8))};
}

#undef QKV_BOTH

// Runs group(x, imatrix, out) over nblocks blocks in groups of kGroup: x and
// imatrix advance by kBlockElems floats per block, out by kBlockBytes. A last,
// partial group runs on zero-padded copies of its input -- lanes never
// influence each other, so its real blocks come out as the reference's -- and
// only its real blocks are copied out. imatrix may be null.
template <int kGroup, int kBlockElems, int kBlockBytes, class Group>
QKV_AVX2 inline void for_each_group(const float* x, const float* imatrix, uint8_t* out, int64_t nblocks,
                                    Group&& group) {
  int64_t i = 0;
  for (; i + kGroup <= nblocks; i += kGroup)
    group(x + i * kBlockElems, imatrix ? imatrix + i * kBlockElems : nullptr, out + i * kBlockBytes);
  if (i == nblocks) return;
  const int64_t rest = nblocks - i;
  float xp[kGroup * kBlockElems] = {}, ip[kGroup * kBlockElems] = {};
  uint8_t op[kGroup * kBlockBytes];
  std::memcpy(xp, x + i * kBlockElems, rest * kBlockElems * sizeof(float));
  if (imatrix) std::memcpy(ip, imatrix + i * kBlockElems, rest * kBlockElems * sizeof(float));
  group(xp, imatrix ? ip : nullptr, op);
  std::memcpy(out + i * kBlockBytes, op, rest * kBlockBytes);
}

// ---- lane-wise versions of ref_common.h's scale searches ------------------------
//
// Same arguments as the scalar functions, with x[i] and w[i] holding element
// i of each lane's block. n <= kMaxGroup.

constexpr int kMaxGroup = 32;

// detail::make_qx_quants for 16 blocks. w are the weights (x*x where the
// reference is given qw == nullptr); L[i] gets the levels 0..2*nmax-1.
QKV_AVX2_INLINE Vf make_qx_quants(int n, int nmax, const Vf* x, const Vf* w, Vi* L) {
  Vf max = splat(0.f), amax = splat(0.f);
  for (int i = 0; i < n; ++i) {
    const Vf ax = abs(x[i]);
    const Mask bigger = ax > amax;  // strict: the first of equal magnitudes stays
    amax = select(bigger, ax, amax);
    max = select(bigger, x[i], max);
  }
  const Mask zero_group = amax < splat(1e-15f);
  Vf wx[kMaxGroup];  // w * x, the first product of the reference's w * x * l
  for (int i = 0; i < n; ++i) wx[i] = w[i] * x[i];
  auto sums = [&](Vf iscale, Vf& sumlx, Vf& suml2) QKV_AVX2_LAMBDA {
    sumlx = suml2 = splat(0.f);
    for (int i = 0; i < n; ++i) {
      const Vf l = to_float(clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
      sumlx = sumlx + wx[i] * l;
      suml2 = suml2 + w[i] * l * l;
    }
  };
  Vf iscale = splat(static_cast<float>(-nmax)) / max;
  Vf sumlx, suml2;
  sums(iscale, sumlx, suml2);
  Vf best_iscale = iscale;  // the levels are a function of the winning iscale
  Vf scale = select(suml2 != splat(0.f), sumlx / suml2, splat(0.f));
  Vf best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = splat(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(is))) / max;
    sums(iscale, sumlx, suml2);
    const Mask better = (suml2 > splat(0.f)) & (sumlx * sumlx > best * suml2);
    best_iscale = select(better, iscale, best_iscale);
    scale = select(better, sumlx / suml2, scale);
    best = select(better, scale * sumlx, best);
  }
  for (int i = 0; i < n; ++i)
    L[i] = select(zero_group, splat_i(0), clamp(nearest_int(best_iscale * x[i]), -nmax, nmax - 1) + splat_i(nmax));
  return select(zero_group, splat(0.f), scale);
}

// The asymmetric range searches: ref_common.h's make_qkx3_quants and
// kquants_ref.cpp's make_qkx2_quants, which differ only in these parameters.
// (qkx2 returns early on max == min, qkx3 on max <= min; as min <= max, or
// both are NaN, the two tests always agree.)
struct RangeSearch {
  float rmin, rdelta;
  int steps;
  bool abs_error;  // weigh |error| rather than error^2
};
constexpr RangeSearch kQkx3Search{-0.9f, 0.05f, 36, false};

// make_qkx3_quants / make_qkx2_quants for 16 blocks: L[i] gets the levels
// 0..nmax, *the_min the (non-negative) offset; returns the scales.
QKV_AVX2_INLINE Vf make_qkx_quants(int n, int nmax, const Vf* x, const Vf* w, Vi* L, Vf* the_min,
                                   const RangeSearch& search) {
  Vf min = x[0], max = x[0];
  Vf sum_w = w[0];
  Vf sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = select(x[i] < min, x[i], min);
    max = select(x[i] > max, x[i], max);
    sum_w = sum_w + w[i];
    sum_x = sum_x + w[i] * x[i];
  }
  min = select(min > splat(0.f), splat(0.f), min);
  const Mask flat = max <= min;  // the reference returns early for these lanes
  const Vf flat_min = min;
  // x - min and max - min for the current min, which moves as fits win (and
  // with it the later ranges and levels, as in the reference).
  Vf from_min[kMaxGroup], range;
  auto set_min = [&](Vf m) QKV_AVX2_LAMBDA {
    min = m;
    for (int i = 0; i < n; ++i) from_min[i] = x[i] - min;
    range = max - min;
  };
  set_min(min);
  auto levels = [&](Vf iscale, Vf* l) QKV_AVX2_LAMBDA {
    for (int i = 0; i < n; ++i) l[i] = to_float(clamp(nearest_int(iscale * from_min[i]), 0, nmax));
  };
  auto error = [&](const Vf* q, Vf scale, Vf offset) QKV_AVX2_LAMBDA {
    Vf err = splat(0.f);
    for (int i = 0; i < n; ++i) {
      Vf diff = scale * q[i] + offset - x[i];
      diff = search.abs_error ? abs(diff) : diff * diff;
      err = err + w[i] * diff;
    }
    return err;
  };
  Vf best_l[kMaxGroup], aux[kMaxGroup];  // levels as floats (exact)
  Vf iscale = splat(static_cast<float>(nmax)) / range;
  Vf scale = splat(1.f) / iscale;
  levels(iscale, best_l);
  Vf best_err = error(best_l, scale, min);
  for (int is = 0; is <= search.steps; ++is) {
    iscale = splat(search.rmin + search.rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / range;
    levels(iscale, aux);
    Vf sum_l = splat(0.f), sum_l2 = splat(0.f), sum_xl = splat(0.f);
    for (int i = 0; i < n; ++i) {
      const Vf wl = w[i] * aux[i];
      sum_l = sum_l + wl;
      sum_l2 = sum_l2 + wl * aux[i];
      sum_xl = sum_xl + wl * x[i];
    }
    const Vf D = sum_w * sum_l2 - sum_l * sum_l;
    Vf this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    Vf this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    const Mask positive = this_min > splat(0.f);  // not representable: refit the scale alone
    this_min = select(positive, splat(0.f), this_min);
    this_scale = select(positive, sum_xl / sum_l2, this_scale);
    const Vf err = error(aux, this_scale, this_min);
    const Mask better = (D > splat(0.f)) & (err < best_err);
    if (!any(better)) continue;
    for (int i = 0; i < n; ++i) best_l[i] = select(better, aux[i], best_l[i]);
    best_err = select(better, err, best_err);
    scale = select(better, this_scale, scale);
    set_min(select(better, this_min, min));
  }
  for (int i = 0; i < n; ++i) L[i] = select(flat, splat_i(0), trunc_to_int(best_l[i]));
  *the_min = select(flat, -flat_min, -min);
  return select(flat, splat(0.f), scale);
}

}  // namespace qkv::quant::simd

#endif  // __x86_64__

// In a fast_*.cpp entry point: "QKV_TRY_AVX2(kernel(...));" runs the AVX2
// kernel and returns when the CPU has AVX2; otherwise (or off x86) it does
// nothing and the entry point goes on to the scalar reference.
#if defined(__x86_64__)
#define QKV_TRY_AVX2(call)              \
  if (::qkv::quant::simd::has_avx2()) { \
    call;                               \
    return;                             \
  }
#else
#define QKV_TRY_AVX2(call)
#endif
