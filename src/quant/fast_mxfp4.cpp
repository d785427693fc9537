// Fast MXFP4, bit-identical to mxfp4_ref.cpp (see there for the format). The
// scale is max |x| and each element is coded on its own, so each 32-element
// block is vectorised within itself, 16 elements at a time.
#include <bit>
#include <cmath>

#include "quant/blocks.h"
#include "quant/fast.h"
#include "quant/ref.h"
#include "quant/simd.h"

namespace qkv::quant {
namespace {

#if defined(__x86_64__)
using namespace simd;

// mxfp4_ref.cpp's kE2m1Doubled: codes 0..7 are 0, 1, 2, 3, 4, 6, 8, 12; codes
// 8..15 their negatives.
constexpr int kPositive[8] = {0, 1, 2, 3, 4, 6, 8, 12};

// mxfp4_ref.cpp's e8m0_to_fp32_half: 2^(e - 128).
float e8m0_to_fp32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

// mxfp4_ref.cpp's nearest_code for 16 elements: of the 16 codes, the lowest
// with the least |value * d - x|. Negation is exact and a - b = -(b - a), so
// a negative code's error for x equals its positive twin's for -x; and the
// codes of the other sign than x never win (their error is at least that of
// code 0, which comes first). So the search runs over the 8 non-negative
// values against |x|, and negative x moves a non-zero code to its twin.
QKV_AVX2_INLINE Vi nearest_code(Vf x, float d) {
  const Vf ax = abs(x);
  Vf best_err = ax;  // code 0: |0 * d - x|
  Vi best = splat_i(0);
  for (int i = 1; i < 8; ++i) {
    const Vf err = abs(splat(static_cast<float>(kPositive[i]) * d) - ax);
    const Mask better = err < best_err;
    best_err = select(better, err, best_err);
    best = select(better, splat_i(i), best);
  }
  return best | (as_int((x < splat(0.f)) & !(best == splat_i(0))) & splat_i(8));
}

QKV_AVX2 void quantize_mxfp4_avx2(const float* x, block_mxfp4* b, int64_t n) {
  for (int64_t i = 0; i < n / QK; ++i, x += QK, ++b) {
    const Vf lo = load(x), hi = load(x + 16);
    // mxfp4_ref.cpp's shared_exponent, with the same float arithmetic.
    const float amax = reduce_max(max(abs(lo), abs(hi)));
    const uint8_t e =
        amax > 0.0f ? static_cast<uint8_t>(static_cast<int>(std::floor(std::log2(amax)) - 2 + 127)) : uint8_t{0};
    const float d = e8m0_to_fp32_half(e);
    b->e = e;
    const Vi codes = nearest_code(lo, d) | nearest_code(hi, d) << 4;  // elements j and j + 16 share a byte
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b->qs), pack_bytes(codes));
  }
}

QKV_AVX2 void dequantize_mxfp4_avx2(const block_mxfp4* b, float* y, int64_t n) {
  const __m256 values_lo = _mm256_setr_ps(0, 1, 2, 3, 4, 6, 8, 12);
  const __m256 values_hi = _mm256_setr_ps(0, -1, -2, -3, -4, -6, -8, -12);
  for (int64_t i = 0; i < n / QK; ++i, ++b, y += QK) {
    const Vf d = splat(e8m0_to_fp32_half(b->e));
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b->qs));
    const Vi lo = widen_u8(_mm_and_si128(packed, _mm_set1_epi8(0x0F)));
    const Vi hi = widen_u8(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
    store(y, lookup16(values_lo, values_hi, lo) * d);
    store(y + 16, lookup16(values_lo, values_hi, hi) * d);
  }
}

#endif  // __x86_64__

}  // namespace

// MXFP4 ignores the imatrix, as its reference does.
void quantize_row_mxfp4_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2(quantize_mxfp4_avx2(x, static_cast<block_mxfp4*>(dst), n));
  quantize_row_mxfp4_ref(x, dst, n, imatrix);
}
void dequantize_row_mxfp4_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_mxfp4_avx2(static_cast<const block_mxfp4*>(src), y, n));
  dequantize_row_mxfp4_ref(src, y, n);
}

}  // namespace qkv::quant
