// The interleaved products (repack.h) in AVX-512 VNNI: 16 rows in the lanes
// of each 512-bit register, four tokens per pass over a group's blocks. Per
// row and token the float steps are those of the row kernels in
// vec_dot_avx512.cpp: each block's (or super-block's) integer total times
// d_w d_a, added into a float in block order.
#include "runtime/repack.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns falsely inside its own AVX-512 intrinsic headers (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#if defined(__x86_64__)
#include "runtime/simd_x86.h"
#endif

#include <cstring>

#include "qkv/error.h"
#include "quant/blocks.h"
#include "runtime/vec_dot.h"

namespace qkv::ops {

#if defined(__x86_64__)
namespace {

using x86::half;

// The activations are Q8_0 or Q8_K blocks (quant/blocks.h), indexed as bytes.
constexpr size_t kQ8_0Bytes = sizeof(block_q8_0), kQ8KBytes = sizeof(block_q8_K);
constexpr size_t kQ8_0Qs = offsetof(block_q8_0, qs);
constexpr size_t kQ8KQs = offsetof(block_q8_K, qs), kQ8KBsums = offsetof(block_q8_K, bsums);

// Asks for the cache lines of the block two ahead: a group's blocks are one
// stream, and in generation (one token, little work per byte) the hardware
// prefetcher alone left the kernel waiting on memory half the time.
template <size_t kBytes>
inline void prefetch_ahead(const uint8_t* blk) {
  for (size_t off = 0; off < kBytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(blk + 2 * kBytes + off), _MM_HINT_T0);
}

QKV_VNNI inline __m512i quad(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// kTokens tokens against one group of 16 rows. kQ4: Q4_0 (unsigned nibbles,
// the offset of 8 taken off through the block's activation sum), else Q8_0
// (|w| unsigned, its sign moved onto the activations). Per row, token and
// block the integer dot product goes into float once, as in the row kernel.
template <bool kQ4, int kTokens>
QKV_VNNI void group_dot(const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab, const int32_t* offsets,
                        float* y, int64_t ldy) {
  constexpr size_t kBlockBytes = 32 + (kQ4 ? 256 : 512);
  __m512 acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = group + b * kBlockBytes;
    prefetch_ahead<kBlockBytes>(blk);
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
    __m512i isum[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      if constexpr (kQ4) {  // -8 * (sum of the block's 32 activations)
        isum[t] = _mm512_set1_epi32(offsets[t * blocks + b]);
      } else {
        isum[t] = _mm512_setzero_si512();
      }
    }
    for (int g = 0; g < 8; ++g)
      for (int t = 0; t < kTokens; ++t) {
        const __m512i x = quad(acts + t * ab + b * kQ8_0Bytes + kQ8_0Qs + 4 * g);
        if constexpr (kQ4)
          isum[t] = _mm512_dpbusd_epi32(isum[t], w[g], x);
        else
          isum[t] = _mm512_dpbusd_epi32(isum[t], w[g], _mm512_mask_sub_epi8(x, negative[g], _mm512_setzero_si512(), x));
      }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
    for (int t = 0; t < kTokens; ++t) {
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(half(acts + t * ab + b * kQ8_0Bytes)));
      acc[t] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(isum[t]), acc[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

// Q4_K (and Q5_K, kFifth: each level's fifth bit from its own chunks)
// against Q8_K: per super-block and row, the 8 sub-block sums of level x
// activation (vpdpbusd over their 8 quads each) times the row's scales, and
// the mins times the activations' 32-element sums; each total into float
// once, as the row kernel does.
template <bool kFifth, int kTokens>
QKV_VNNI void group_dot_q45_K(const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab, const int32_t*,
                              float* y, int64_t ldy) {
  constexpr size_t kBlockBytes = kFifth ? kQ5KGroupBlockBytes : kQ4KGroupBlockBytes;
  __m512 acc[kTokens], acc_min[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = acc_min[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = group + b * kBlockBytes;
    prefetch_ahead<kBlockBytes>(blk);
    __m512i isum[kTokens];
    for (int t = 0; t < kTokens; ++t) isum[t] = _mm512_setzero_si512();
    // Sub-blocks s and s + 4 share the nibble chunks 8s .. 8s + 7 (low and high
    // nibbles): their sums live only while those chunks pass, for every token.
    for (int s = 0; s < 4; ++s) {
      __m512i lo_sum[kTokens], hi_sum[kTokens];
      for (int t = 0; t < kTokens; ++t) lo_sum[t] = hi_sum[t] = _mm512_setzero_si512();
      for (int p = 8 * s; p < 8 * s + 8; ++p) {
        const __m512i q = _mm512_loadu_si512(blk + q45_K_nibbles(kFifth, p));
        __m512i lo = _mm512_and_si512(q, _mm512_set1_epi8(0xF));
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), _mm512_set1_epi8(0xF));
        if constexpr (kFifth) {  // bit s of fifth-bit chunk p % 8 for the low quad, bit 4 + s for the high
          const __m512i f = _mm512_loadu_si512(blk + q5_K_fifth(p % 8)), one = _mm512_set1_epi8(1);
          lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(f, s), one), 4));
          hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(f, 4 + s), one), 4));
        }
        for (int t = 0; t < kTokens; ++t) {
          const uint8_t* a = acts + t * ab + b * kQ8KBytes + kQ8KQs;
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
      std::memcpy(bsums, a + kQ8KBsums, sizeof bsums);
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

// Q6_K against Q8_K: per super-block and row, sum over the 16 sub-blocks of
// scale * (sum of level x activation - 32 * bsum), into float once. Chunk
// run h (h = 4s + j) holds quads h (sub-block s), h + 16 (s + 4), h + 32
// (s + 8) and h + 48 (s + 12): four sub-block sums live while s's runs pass.
template <int kTokens>
QKV_VNNI void group_dot_q6_K(const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab, const int32_t*,
                             float* y, int64_t ldy) {
  const __m512i three = _mm512_set1_epi8(3), fifteen = _mm512_set1_epi8(0xF);
  __m512 acc[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = group + b * kQ6KGroupBlockBytes;
    prefetch_ahead<kQ6KGroupBlockBytes>(blk);
    __m512i isum[kTokens];
    for (int t = 0; t < kTokens; ++t) isum[t] = _mm512_setzero_si512();
    for (int s = 0; s < 4; ++s) {
      __m512i sums[kTokens][4];  // sub-blocks s, s + 4, s + 8, s + 12
      for (int t = 0; t < kTokens; ++t)
        for (int m = 0; m < 4; ++m) sums[t][m] = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        const int h = 4 * s + j;
        const uint8_t* run = blk + 288 + 192 * h;
        const __m512i top = _mm512_loadu_si512(run);
        for (int m = 0; m < 2; ++m) {  // nibbles of quads h + 16m (low) and h + 16m + 32 (high)
          const __m512i q = _mm512_loadu_si512(run + 64 * (1 + m));
          const __m512i lo = _mm512_or_si512(
              _mm512_and_si512(q, fifteen), _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(top, 2 * m), three), 4));
          const __m512i hi =
              _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(q, 4), fifteen),
                              _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(top, 2 * m + 4), three), 4));
          const int p = h + 16 * m;
          for (int t = 0; t < kTokens; ++t) {
            const uint8_t* a = acts + t * ab + b * kQ8KBytes + kQ8KQs;
            sums[t][m] = _mm512_dpbusd_epi32(sums[t][m], lo, quad(a + 4 * p));
            sums[t][2 + m] = _mm512_dpbusd_epi32(sums[t][2 + m], hi, quad(a + 128 + 4 * p));
          }
        }
      }
      for (int m = 0; m < 4; ++m) {
        const int sub = s + 4 * m;
        const __m512i scale =
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 32 + 16 * sub)));
        for (int t = 0; t < kTokens; ++t) {
          int16_t bsum;  // the activations' sum over sub-block `sub`
          std::memcpy(&bsum, acts + t * ab + b * kQ8KBytes + kQ8KBsums + 2 * sub, 2);
          const __m512i biased = _mm512_sub_epi32(sums[t][m], _mm512_set1_epi32(32 * bsum));
          isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(scale, biased));
        }
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
    for (int t = 0; t < kTokens; ++t) {
      float dy;
      std::memcpy(&dy, acts + t * ab + b * kQ8KBytes, 4);
      acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(dy)), _mm512_cvtepi32_ps(isum[t]), acc[t]);
    }
  }
  for (int t = 0; t < kTokens; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

// Q2_K and Q3_K (kQ3) against Q8_K: per super-block and row, the 16
// sub-block sums of level x activation times the row's scales (Q3_K: the
// levels are q + 4 * hbit, the bias of 4 taken off through the activation
// sums), Q2_K's mins times those sums; each total into float once, as the
// row kernel does. 2-bit chunk c holds quads c + 16m: while pass s's four
// chunks go by, the sums of sub-blocks s + 4m (m < 4) live.
template <bool kQ3, int kTokens>
QKV_VNNI void group_dot_low_K(const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab, const int32_t*,
                              float* y, int64_t ldy) {
  constexpr size_t kBlockBytes = kQ3 ? kQ3KGroupBlockBytes : kQ2KGroupBlockBytes;
  const __m512i three = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
  __m512 acc[kTokens], acc_min[kTokens];
  for (int t = 0; t < kTokens; ++t) acc[t] = acc_min[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = group + b * kBlockBytes;
    prefetch_ahead<kBlockBytes>(blk);
    __m512i isum[kTokens];
    for (int t = 0; t < kTokens; ++t) isum[t] = _mm512_setzero_si512();
    for (int s = 0; s < 4; ++s) {
      __m512i sums[kTokens][4];
      for (int t = 0; t < kTokens; ++t)
        for (int m = 0; m < 4; ++m) sums[t][m] = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        const int c = 4 * s + j;
        const __m512i q = _mm512_loadu_si512(blk + low_K_levels_at(kQ3, c));
        const __m512i high = kQ3 ? _mm512_loadu_si512(blk + q3_K_high_at(c % 8)) : _mm512_setzero_si512();
        for (int m = 0; m < 4; ++m) {
          __m512i u = _mm512_and_si512(_mm512_srli_epi16(q, 2 * m), three);
          if constexpr (kQ3)
            u = _mm512_or_si512(u, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(high, 2 * m + c / 8), one), 2));
          for (int t = 0; t < kTokens; ++t)
            sums[t][m] =
                _mm512_dpbusd_epi32(sums[t][m], u, quad(acts + t * ab + b * kQ8KBytes + kQ8KQs + 4 * (c + 16 * m)));
        }
      }
      for (int m = 0; m < 4; ++m) {
        const int sub = s + 4 * m;
        const __m512i packed =
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + (kQ3 ? 32 : 64) + 16 * sub)));
        for (int t = 0; t < kTokens; ++t) {
          if constexpr (kQ3) {
            const __m512i scale = _mm512_srai_epi32(_mm512_slli_epi32(packed, 24), 24);  // the int8 scale
            int16_t bsum;
            std::memcpy(&bsum, acts + t * ab + b * kQ8KBytes + kQ8KBsums + 2 * sub, 2);
            isum[t] = _mm512_add_epi32(
                isum[t], _mm512_mullo_epi32(scale, _mm512_sub_epi32(sums[t][m], _mm512_set1_epi32(4 * bsum))));
          } else {
            const __m512i scale = _mm512_and_si512(packed, _mm512_set1_epi32(0xF));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(scale, sums[t][m]));
          }
        }
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
    for (int t = 0; t < kTokens; ++t) {
      const uint8_t* a = acts + t * ab + b * kQ8KBytes;
      float dy;
      std::memcpy(&dy, a, 4);
      const __m512 vdy = _mm512_set1_ps(dy);
      acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(d, vdy), _mm512_cvtepi32_ps(isum[t]), acc[t]);
      if constexpr (!kQ3) {
        int16_t bsums[16];
        std::memcpy(bsums, a + kQ8KBsums, sizeof bsums);
        __m512i imin = _mm512_setzero_si512();
        for (int sub = 0; sub < 16; ++sub) {
          const __m512i mn = _mm512_srli_epi32(
              _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 64 + 16 * sub))), 4);
          imin = _mm512_add_epi32(imin, _mm512_mullo_epi32(mn, _mm512_set1_epi32(bsums[sub])));
        }
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32)));
        acc_min[t] = _mm512_fmadd_ps(_mm512_mul_ps(dmin, vdy), _mm512_cvtepi32_ps(imin), acc_min[t]);
      }
    }
  }
  for (int t = 0; t < kTokens; ++t)
    _mm512_storeu_ps(y + t * ldy, kQ3 ? acc[t] : _mm512_sub_ps(acc[t], acc_min[t]));
}

// One group of 16 rows against kTokens tokens; `offsets` is Q4_0's (repack.cpp), else unused.
using GroupFn = void (*)(const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab, const int32_t* offsets,
                         float* y, int64_t ldy);
struct GroupKernels {
  TensorType type;
  GroupFn four, one;  // 4 tokens per pass, and the rest one by one
};
const GroupKernels kGroupKernels[] = {
    {TensorType::Q4_0, group_dot<true, 4>, group_dot<true, 1>},
    {TensorType::Q8_0, group_dot<false, 4>, group_dot<false, 1>},
    {TensorType::Q2_K, group_dot_low_K<false, 4>, group_dot_low_K<false, 1>},
    {TensorType::Q3_K, group_dot_low_K<true, 4>, group_dot_low_K<true, 1>},
    {TensorType::Q4_K, group_dot_q45_K<false, 4>, group_dot_q45_K<false, 1>},
    {TensorType::Q5_K, group_dot_q45_K<true, 4>, group_dot_q45_K<true, 1>},
    {TensorType::Q6_K, group_dot_q6_K<4>, group_dot_q6_K<1>},
};

}  // namespace

void matmul_x16_avx512(TensorType type, const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab,
                       const int32_t* q4_0_offsets, int64_t T, float* y, int64_t ldy) {
  for (const GroupKernels& k : kGroupKernels) {
    if (k.type != type) continue;
    for (int64_t t = 0; t < T;) {
      const int64_t n = T - t >= 4 ? 4 : 1;
      const int32_t* offsets = q4_0_offsets ? q4_0_offsets + t * blocks : nullptr;
      (n == 4 ? k.four : k.one)(group, blocks, acts + t * ab, ab, offsets, y + t * ldy, ldy);
      t += n;
    }
    return;
  }
  throw Error(ErrorKind::Unsupported, "matmul_x16_avx512: not an interleaved type");
}

#else

void matmul_x16_avx512(TensorType, const uint8_t*, int64_t, const uint8_t*, size_t, const int32_t*, int64_t, float*,
                       int64_t) {
  throw Error(ErrorKind::Unsupported, "interleaved weights need x86-64 with AVX-512 VNNI");
}

#endif

}  // namespace qkv::ops
