// Fast TQ1_0 and TQ2_0, bit-identical to ternary_ref.cpp (see there for the
// formats). Neither has an order-dependent sum (the scale is max |x|), so each
// 256-element block is vectorised within itself, 16 elements at a time.
#include <cfloat>
#include <cmath>

#include "quant/blocks.h"
#include "quant/fast.h"
#include "quant/ref.h"
#include "quant/ref_common.h"
#include "quant/simd.h"

namespace qkv::quant {
namespace {

#if defined(__x86_64__)
using namespace simd;

// ternary_ref.cpp's store_scale: stores d = max |x| and returns 1/d (0 for an all-zero block).
QKV_AVX2 float store_scale(const float* x, uint8_t* d_out) {
  Vf amax = abs(load(x));
  for (int j = 16; j < QK_K; j += 16) amax = max(amax, abs(load(x + j)));
  const float d = reduce_max(amax);
  detail::store_half(d_out, d);
  return d ? 1.0f / d : 0.0f;
}

// Where 1/d overflows (d is subnormal), x * id is infinite or NaN and what
// the reference's lround makes of it is up to the C library; such a block
// goes through the reference itself.
inline bool overflowed(float id) { return !(id <= FLT_MAX); }

// ternary_ref.cpp's trit, static_cast<int>(std::lround(x * id)) + 1, for 16
// elements (|x * id| <= 1).
QKV_AVX2_INLINE Vi trits(const float* x, float id) {
  return trunc_to_int(round_half_away(load(x) * splat(id))) + splat_i(1);
}

// ternary_ref.cpp's pack_trits with 5 trits for 16 bytes: trit n of byte m is
// element x[m + n * stride]. The bytes are ceil(q * 256 / 243), computed as
// (q * 256 + 242) / 243 in float: exact, since the dividend is below 2^16 and
// a quotient just under an integer k <= 256 stays 1/243 away from it, far more
// than its rounding error.
QKV_AVX2_INLINE __m128i pack_trits(const float* x, int stride, float id) {
  Vi q = trits(x, id);
  for (int n = 1; n < 5; ++n) q = q * splat_i(3) + trits(x + n * stride, id);
  return pack_bytes(trunc_to_int(to_float(q * splat_i(256) + splat_i(242)) / splat(243.f)));
}

QKV_AVX2 void quantize_tq1_0_avx2(const float* x, block_tq1_0* b, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K, ++b) {
    const float id = store_scale(x, b->d);
    if (overflowed(id)) {
      quantize_row_tq1_0_ref(x, b, QK_K, nullptr);
      continue;
    }
    for (int m = 0; m < 32; m += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(b->qs + m), pack_trits(x + m, 32, id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b->qs + 32), pack_trits(x + 160, 16, id));
    // The last 4 bytes hold 4 trits each: the reference's scalar code.
    for (int j = 0; j < 4; ++j) {
      int q = 0;
      for (int t = 0; t < 4; ++t) q = q * 3 + static_cast<int>(std::lround(x[240 + j + 4 * t] * id)) + 1;
      b->qh[j] = static_cast<uint8_t>((q * 3 * 256 + 242) / 243);
    }
  }
}

QKV_AVX2 void quantize_tq2_0_avx2(const float* x, block_tq2_0* b, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K, ++b) {
    const float id = store_scale(x, b->d);
    if (overflowed(id)) {
      quantize_row_tq2_0_ref(x, b, QK_K, nullptr);
      continue;
    }
    // Byte 32g + m holds elements 128g + m + 32t at bits 2t, 2t+1.
    for (int g = 0; g < 2; ++g)
      for (int m = 0; m < 32; m += 16) {
        const float* xs = x + 128 * g + m;
        const Vi q = trits(xs, id) | trits(xs + 32, id) << 2 | trits(xs + 64, id) << 4 | trits(xs + 96, id) << 6;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(b->qs + 32 * g + m), pack_bytes(q & splat_i(0xFF)));
      }
  }
}

// ---- dequantization ---------------------------------------------------------------

// Trit n (0 = most significant) of 16 packed bytes, as -1, 0, +1 in floats
// times d: ternary_ref.cpp's unpack_trit.
QKV_AVX2_INLINE Vf unpack_trits(const uint8_t* p, int n, Vf d) {
  static constexpr int kPow3[5] = {1, 3, 9, 27, 81};
  const Vi shifted = load_u8(p) * splat_i(kPow3[n]) & splat_i(0xFF);  // mod 256 drops the trits above n
  return to_float(((shifted * splat_i(3)) >> 8) - splat_i(1)) * d;
}

QKV_AVX2 void dequantize_tq1_0_avx2(const block_tq1_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; ++i, ++b, y += QK_K) {
    const float d = load_half(b->d);
    for (int t = 0; t < 5; ++t)
      for (int m = 0; m < 32; m += 16) store(y + m + 32 * t, unpack_trits(b->qs + m, t, splat(d)));
    for (int t = 0; t < 5; ++t) store(y + 160 + 16 * t, unpack_trits(b->qs + 32, t, splat(d)));
    // The last 4 bytes: the reference's scalar code.
    static constexpr uint8_t kPow3[4] = {1, 3, 9, 27};
    for (int t = 0; t < 4; ++t)
      for (int j = 0; j < 4; ++j) {
        const uint8_t shifted = static_cast<uint8_t>(b->qh[j] * kPow3[t]);
        y[240 + j + 4 * t] = static_cast<float>(((shifted * 3) >> 8) - 1) * d;
      }
  }
}

QKV_AVX2 void dequantize_tq2_0_avx2(const block_tq2_0* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; ++i, ++b, y += QK_K) {
    const Vf d = splat(load_half(b->d));
    for (int g = 0; g < 2; ++g)
      for (int m = 0; m < 32; m += 16) {
        const Vi q = load_u8(b->qs + 32 * g + m);
        for (int t = 0; t < 4; ++t)
          store(y + 128 * g + 32 * t + m, to_float(((q >> (2 * t)) & splat_i(3)) - splat_i(1)) * d);
      }
  }
}

#endif  // __x86_64__

}  // namespace

// Both ignore the imatrix, as their references do.
void quantize_row_tq1_0_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2(quantize_tq1_0_avx2(x, static_cast<block_tq1_0*>(dst), n));
  quantize_row_tq1_0_ref(x, dst, n, imatrix);
}
void quantize_row_tq2_0_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2(quantize_tq2_0_avx2(x, static_cast<block_tq2_0*>(dst), n));
  quantize_row_tq2_0_ref(x, dst, n, imatrix);
}
void dequantize_row_tq1_0_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_tq1_0_avx2(static_cast<const block_tq1_0*>(src), y, n));
  dequantize_row_tq1_0_ref(src, y, n);
}
void dequantize_row_tq2_0_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_tq2_0_avx2(static_cast<const block_tq2_0*>(src), y, n));
  dequantize_row_tq2_0_ref(src, y, n);
}

}  // namespace qkv::quant
