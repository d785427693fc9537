// The interleaved Q4_0 / Q8_0 products (repack.h) in AVX-512 VNNI: 16 rows
// in the lanes of each 512-bit register, two tokens per pass over a group's
// blocks. Per row and token the float steps are those of dot_symmetric_n in
// vec_dot_avx512.cpp (and vec_dot_avx2.cpp): lane g of an 8-lane accumulator
// adds d_w d_a * (integer dot of quad g) block by block, and the 8 lanes are
// added at the end in hsum's order. Here accumulator g holds that lane for
// all 16 rows.
#include "runtime/repack.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns falsely inside its own AVX-512 intrinsic headers (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <cstring>

#include "qkv/error.h"
#include "runtime/vec_dot.h"

namespace qkv::ops {

#if defined(__x86_64__)
namespace {

#define QKV_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

constexpr size_t kQ8_0Bytes = 34;

QKV_VNNI inline float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
QKV_VNNI inline __m512i quad(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// kTokens tokens against one group of 16 rows. kQ4: Q4_0 (unsigned nibbles,
// the offset of 8 taken off through the activation quad sums), else Q8_0
// (|w| unsigned, its sign moved onto the activations).
template <bool kQ4, int kTokens>
QKV_VNNI void group_dot(const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab, float* y,
                        int64_t ldy) {
  constexpr size_t kBlockBytes = 32 + (kQ4 ? 256 : 512);
  __m512 acc[kTokens][8];
  for (int t = 0; t < kTokens; ++t)
    for (int g = 0; g < 8; ++g) acc[t][g] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = group + b * kBlockBytes;
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
    __m512i w[8];
    __mmask64 negative[8];
    if constexpr (kQ4) {
      for (int p = 0; p < 4; ++p) {
        const __m512i q = _mm512_loadu_si512(blk + 32 + 64 * p);
        w[2 * p] = _mm512_and_si512(q, _mm512_set1_epi8(0xF));
        w[2 * p + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), _mm512_set1_epi8(0xF));
      }
    } else {
      for (int g = 0; g < 8; ++g) {
        const __m512i q = _mm512_loadu_si512(blk + 32 + 64 * g);
        negative[g] = _mm512_movepi8_mask(q);
        w[g] = _mm512_abs_epi8(q);
      }
    }
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* a = acts + t * ab + b * kQ8_0Bytes;
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(half(a)));
      int32_t offset[8];  // Q4_0: -8 * (sum of activation quad g)
      if constexpr (kQ4) {
        const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1),
                                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(offset), _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), sums), 3));
      }
      for (int g = 0; g < 8; ++g) {
        __m512i s;
        if constexpr (kQ4) {
          s = _mm512_dpbusd_epi32(_mm512_set1_epi32(offset[g]), w[g], quad(a + 2 + 4 * g));
        } else {
          const __m512i x = quad(a + 2 + 4 * g);
          s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[g], _mm512_mask_sub_epi8(x, negative[g], _mm512_setzero_si512(), x));
        }
        acc[t][g] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[t][g]);
      }
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    const __m512* A = acc[t];
    // hsum's order over the 8 lanes of the row-at-a-time kernel.
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(A[0], A[4]), _mm512_add_ps(A[2], A[6])),
                                     _mm512_add_ps(_mm512_add_ps(A[1], A[5]), _mm512_add_ps(A[3], A[7])));
    _mm512_storeu_ps(y + t * ldy, sum);
  }
}

// Q4_K against Q8_K: per super-block and row, the 8 sub-block sums of
// nibble x activation (vpdpbusd over their 8 quads each) times the row's
// scales, and the mins times the activations' 32-element sums; each total
// into float once, as the row kernel does.
template <int kTokens>
QKV_VNNI void group_dot_q4_K(const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab, float* y,
                             int64_t ldy) {
  constexpr size_t kQ8KBytes = 292;
  __m512 acc[kTokens], acc_min[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = acc_min[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = group + b * kQ4KGroupBlockBytes;
    __m512i isum[kTokens];
    for (int t = 0; t < kTokens; ++t) isum[t] = _mm512_setzero_si512();
    // Sub-blocks s and s + 4 share the nibble chunks 8s .. 8s + 7 (low and high
    // nibbles): their sums live only while those chunks pass, for every token.
    for (int s = 0; s < 4; ++s) {
      __m512i lo_sum[kTokens], hi_sum[kTokens];
      for (int t = 0; t < kTokens; ++t) lo_sum[t] = hi_sum[t] = _mm512_setzero_si512();
      for (int p = 8 * s; p < 8 * s + 8; ++p) {
        const __m512i q = _mm512_loadu_si512(blk + 320 + 64 * p);
        const __m512i lo = _mm512_and_si512(q, _mm512_set1_epi8(0xF));
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), _mm512_set1_epi8(0xF));
        for (int t = 0; t < kTokens; ++t) {
          const uint8_t* a = acts + t * ab + b * kQ8KBytes + 4;
          lo_sum[t] = _mm512_dpbusd_epi32(lo_sum[t], lo, quad(a + 4 * p));
          hi_sum[t] = _mm512_dpbusd_epi32(hi_sum[t], hi, quad(a + 128 + 4 * p));
        }
      }
      const __m512i scale_lo = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 64 + 16 * s)));
      const __m512i scale_hi =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 64 + 16 * (s + 4))));
      for (int t = 0; t < kTokens; ++t)
        isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(_mm512_mullo_epi32(scale_lo, lo_sum[t]),
                                                             _mm512_mullo_epi32(scale_hi, hi_sum[t])));
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
    const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32)));
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* a = acts + t * ab + b * kQ8KBytes;
      int16_t bsums[16];
      std::memcpy(bsums, a + 4 + 256, sizeof bsums);
      __m512i imin = _mm512_setzero_si512();
      for (int s = 0; s < 8; ++s) {
        const __m512i mn = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192 + 16 * s)));
        imin = _mm512_add_epi32(imin, _mm512_mullo_epi32(mn, _mm512_set1_epi32(bsums[2 * s] + bsums[2 * s + 1])));
      }
      float dy;
      std::memcpy(&dy, a, 4);
      const __m512 vdy = _mm512_set1_ps(dy);
      acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(d, vdy), _mm512_cvtepi32_ps(isum[t]), acc[t]);
      acc_min[t] = _mm512_fmadd_ps(_mm512_mul_ps(dmin, vdy), _mm512_cvtepi32_ps(imin), acc_min[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(y + t * ldy, _mm512_sub_ps(acc[t], acc_min[t]));
}

template <bool kQ4>
QKV_VNNI void group_all_tokens(const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab, int64_t T,
                               float* y, int64_t ldy) {
  int64_t t = 0;
  for (; t + 2 <= T; t += 2) group_dot<kQ4, 2>(group, blocks, acts + t * ab, ab, y + t * ldy, ldy);
  if (t < T) group_dot<kQ4, 1>(group, blocks, acts + t * ab, ab, y + t * ldy, ldy);
}

#undef QKV_VNNI

}  // namespace

void matmul_x16_avx512(TensorType type, const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab,
                       int64_t T, float* y, int64_t ldy) {
  if (type == TensorType::Q4_0) return group_all_tokens<true>(group, blocks, acts, ab, T, y, ldy);
  if (type == TensorType::Q8_0) return group_all_tokens<false>(group, blocks, acts, ab, T, y, ldy);
  if (type == TensorType::Q4_K) {
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) group_dot_q4_K<4>(group, blocks, acts + t * ab, ab, y + t * ldy, ldy);
    for (; t < T; ++t) group_dot_q4_K<1>(group, blocks, acts + t * ab, ab, y + t * ldy, ldy);
    return;
  }
  throw Error(ErrorKind::Unsupported, "matmul_x16_avx512: not an interleaved type");
}

#else

void matmul_x16_avx512(TensorType, const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*, int64_t) {
  throw Error(ErrorKind::Unsupported, "interleaved weights need x86-64 with AVX-512 VNNI");
}

#endif

}  // namespace qkv::ops
