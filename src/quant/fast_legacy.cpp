// Fast Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0, bit-identical to legacy_ref.cpp (see
// there for the block layouts and the algorithms).
//
// Without an imatrix the reference handles one block at a time and its only
// reductions are max / min, so each block is vectorised within itself: 32
// elements are 2 vectors. With an imatrix it runs a scale search whose running
// sums depend on their order, so 16 blocks go at once, one per lane, each lane
// doing the reference's scalar sequence (quant/simd.h).
#include "quant/blocks.h"
#include "quant/fast.h"
#include "quant/ref.h"
#include "quant/ref_common.h"
#include "quant/simd.h"

namespace qkv::quant {
namespace {

#if defined(__x86_64__)
using namespace simd;

// Every block starts with its d (quant/blocks.h); the kernels below take the
// other fields' offsets from the struct.

// legacy_ref.cpp's row_sigma2: the mean square of the row, summed in order.
QKV_AVX2 float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

// ---- one block at a time (no imatrix) ----------------------------------------

// The 32 elements of a block as 2 vectors.
QKV_AVX2_INLINE void load_block(const float* x, Vf* v) {
  v[0] = load(x);
  v[1] = load(x + 16);
}

// x[j] for the first j whose v[j] equals `value`; one must. The references
// scan with strict comparisons, so of equal candidates the first one stays --
// which matters for the sign of a zero.
QKV_AVX2_INLINE float first_equal(const float* x, const Vf* v, float value) {
  return x[__builtin_ctz(bits(v[0] == splat(value)) | bits(v[1] == splat(value)) << 16)];
}

// Stores 32 levels (L[k] holds elements 16k..16k+15): their low nibbles into
// qs and, when qh is given, their fifth bits into qh.
QKV_AVX2_INLINE void store_block_levels(const Vi* L, uint8_t* qs, uint8_t* qh) {
  const Vi nibble = splat_i(0x0F);
  // Elements j and j + 16 share a byte.
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), pack_bytes((L[0] & nibble) | (L[1] & nibble) << 4));
  if (qh) detail::store_u32(qh, sign_bits(L[0] << 27) | sign_bits(L[1] << 27) << 16);  // bit 4 to the sign
}

// Q4_0 / Q5_0 (legacy_ref.cpp's quantize_symmetric_block).
template <int kBits>
QKV_AVX2 void quantize_symmetric_avx2(const float* x, uint8_t* b, int64_t nblocks) {
  using Block = legacy_block_t<kBits, false>;
  constexpr int half = 1 << (kBits - 1), bytes = sizeof(Block), qs = offsetof(Block, qs);
  const Vf offset = splat(static_cast<float>(half) + 0.5f);
  for (int64_t i = 0; i < nblocks; ++i, x += QK, b += bytes) {
    Vf v[2];
    load_block(x, v);
    const Vf a[2] = {abs(v[0]), abs(v[1])};
    const float amax = reduce_max(max(a[0], a[1]));
    const float signed_max = amax > 0 ? first_equal(x, a, amax) : 0.f;
    const float d = signed_max / static_cast<float>(-half);
    const float id = d ? 1.0f / d : 0.0f;
    const Vf scaled[2] = {v[0] * splat(id) + offset, v[1] * splat(id) + offset};
    if (!all_int_range(scaled[0]) || !all_int_range(scaled[1])) {  // 1/d or x overflowed
      (kBits == 4 ? quantize_row_q4_0_ref : quantize_row_q5_0_ref)(x, b, QK, nullptr);
      continue;
    }
    detail::store_half(b, d);
    Vi L[2];
    for (int k = 0; k < 2; ++k) L[k] = min(splat_i(2 * half - 1), trunc_to_int(scaled[k]));
    uint8_t* qh = nullptr;
    if constexpr (kBits == 5) qh = b + offsetof(Block, qh);
    store_block_levels(L, b + qs, qh);
  }
}

// Q4_1 / Q5_1 (legacy_ref.cpp's quantize_asymmetric_block).
template <int kBits>
QKV_AVX2 void quantize_asymmetric_avx2(const float* x, uint8_t* b, int64_t nblocks) {
  using Block = legacy_block_t<kBits, true>;
  constexpr int top = (1 << kBits) - 1, bytes = sizeof(Block), qs = offsetof(Block, qs);
  for (int64_t i = 0; i < nblocks; ++i, x += QK, b += bytes) {
    Vf v[2];
    load_block(x, v);
    float lo = reduce_min(min(v[0], v[1]));
    float hi = reduce_max(max(v[0], v[1]));
    if (lo == 0) lo = first_equal(x, v, 0.f);
    if (hi == 0) hi = first_equal(x, v, 0.f);
    const float d = (hi - lo) / static_cast<float>(top);
    const float id = d ? 1.0f / d : 0.0f;
    Vf scaled[2];
    for (int k = 0; k < 2; ++k) scaled[k] = (v[k] - splat(lo)) * splat(id) + splat(0.5f);
    if (!all_int_range(scaled[0]) || !all_int_range(scaled[1])) {  // 1/d or x - min overflowed
      (kBits == 4 ? quantize_row_q4_1_ref : quantize_row_q5_1_ref)(x, b, QK, nullptr);
      continue;
    }
    detail::store_half(b, d);
    detail::store_half(b + offsetof(Block, m), lo);
    Vi L[2];
    for (int k = 0; k < 2; ++k) L[k] = min(splat_i(top), trunc_to_int(scaled[k]));
    uint8_t* qh = nullptr;
    if constexpr (kBits == 5) qh = b + offsetof(Block, qh);
    store_block_levels(L, b + qs, qh);
  }
}

QKV_AVX2 void quantize_q8_0_avx2(const float* x, uint8_t* b, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i, x += QK, b += sizeof(block_q8_0)) {
    Vf v[2];
    load_block(x, v);
    const float amax = reduce_max(max(abs(v[0]), abs(v[1])));
    const float d = amax / 127.f;
    const float id = d ? 1.0f / d : 0.0f;
    const Vf rounded[2] = {round_half_away(v[0] * splat(id)), round_half_away(v[1] * splat(id))};
    if (!all_int_range(rounded[0]) || !all_int_range(rounded[1])) {  // 1/d overflowed
      quantize_row_q8_0_ref(x, b, QK, nullptr);
      continue;
    }
    detail::store_half(b, d);
    for (int k = 0; k < 2; ++k) {  // static_cast<int8_t>: the low byte
      const Vi q = trunc_to_int(rounded[k]) & splat_i(0xFF);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b + offsetof(block_q8_0, qs) + 16 * k), pack_bytes(q));
    }
  }
}

// ---- 16 blocks at once (imatrix) ----------------------------------------------

// legacy_ref.cpp's weighted path for the 16 blocks at x (imatrix: their
// weights); b receives the 16 blocks.
template <int kBits, bool kHasMin>
QKV_AVX2 void quantize_weighted_group(const float* x, const float* imatrix, float sigma2, uint8_t* b) {
  using Block = legacy_block_t<kBits, kHasMin>;
  constexpr int bytes = sizeof(Block), qs = offsetof(Block, qs);
  Vf xv[QK], w[QK];
  load_blocks(x, QK, QK, xv);
  load_blocks(imatrix, QK, QK, w);
  for (int j = 0; j < QK; ++j) w[j] = w[j] * sqrt(splat(sigma2) + xv[j] * xv[j]);
  Vi L[QK];
  if constexpr (kHasMin) {
    Vf min;
    store_lanes_half(make_qkx_quants(QK, (1 << kBits) - 1, xv, w, L, &min, kQkx3Search), b, bytes);
    store_lanes_half(-min, b + offsetof(Block, m), bytes);
  } else {
    store_lanes_half(make_qx_quants(QK, 1 << (kBits - 1), xv, w, L), b, bytes);
  }
  if constexpr (kBits == 5) {
    Vi qh = splat_i(0);
    for (int j = 0; j < QK; ++j) qh = qh | ((L[j] >> 4) & splat_i(1)) << j;
    store_lanes_u32(qh, b + offsetof(Block, qh), bytes);
  }
  Vi nibbles[QK / 2];
  for (int j = 0; j < QK / 2; ++j) nibbles[j] = (L[j] & splat_i(0x0F)) | (L[j + QK / 2] & splat_i(0x0F)) << 4;
  store_lanes_u8(nibbles, QK / 2, b + qs, bytes);
}

template <int kBits, bool kHasMin>
QKV_AVX2 void quantize_avx2(const float* x, uint8_t* b, int64_t n, const float* imatrix) {
  if (!imatrix) {
    if constexpr (kHasMin)
      quantize_asymmetric_avx2<kBits>(x, b, n / QK);
    else
      quantize_symmetric_avx2<kBits>(x, b, n / QK);
    return;
  }
  const float sigma2 = row_sigma2(x, n);
  for_each_group<kLanes, QK, sizeof(legacy_block_t<kBits, kHasMin>)>(
      x, imatrix, b, n / QK, [&](const float* xg, const float* ig, uint8_t* bg) QKV_AVX2_LAMBDA {
        quantize_weighted_group<kBits, kHasMin>(xg, ig, sigma2, bg);
      });
}

// ---- dequantization -------------------------------------------------------------

template <int kBits, bool kHasMin>
QKV_AVX2 void dequantize_avx2(const uint8_t* b, float* y, int64_t nblocks) {
  using Block = legacy_block_t<kBits, kHasMin>;
  constexpr int bytes = sizeof(Block), qs = offsetof(Block, qs);
  // The levels are formed as bytes (elements 0..15, then 16..31), minus the zero point.
  const __m128i nibble = _mm_set1_epi8(0x0F), zero = _mm_set1_epi8(kHasMin ? 0 : 1 << (kBits - 1));
  for (int64_t i = 0; i < nblocks; ++i, b += bytes, y += QK) {
    const Vf d = splat(load_half(b));
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + qs));
    __m128i q[2] = {_mm_and_si128(packed, nibble), _mm_and_si128(_mm_srli_epi16(packed, 4), nibble)};
    if constexpr (kBits == 5) {
      // Byte j of the 32 gets bit j of qh, as 0x10: select qh's byte j / 8, test bit j % 8.
      const __m256i h =
          _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(detail::load_u32(b + offsetof(Block, qh)))),
                              _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
      const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
      const __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit), _mm256_set1_epi8(0x10));
      q[0] = _mm_or_si128(q[0], _mm256_castsi256_si128(high));
      q[1] = _mm_or_si128(q[1], _mm256_extracti128_si256(high, 1));
    }
    for (int k = 0; k < 2; ++k) {
      const __m128i v = _mm_sub_epi8(q[k], zero);
      const Vi level = {_mm256_cvtepi8_epi32(v), _mm256_cvtepi8_epi32(_mm_srli_si128(v, 8))};
      Vf x = to_float(level) * d;
      if constexpr (kHasMin) x = x + splat(load_half(b + offsetof(Block, m)));
      store(y + 16 * k, x);
    }
  }
}

QKV_AVX2 void dequantize_q8_0_avx2(const uint8_t* b, float* y, int64_t nblocks) {
  for (int64_t i = 0; i < nblocks; ++i, b += sizeof(block_q8_0), y += QK) {
    const Vf d = splat(load_half(b));
    for (int k = 0; k < 2; ++k) store(y + 16 * k, to_float(load_i8(b + offsetof(block_q8_0, qs) + 16 * k)) * d);
  }
}

#endif  // __x86_64__

}  // namespace

void quantize_row_q4_0_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_avx2<4, false>(x, static_cast<uint8_t*>(dst), n, imatrix)));
  quantize_row_q4_0_ref(x, dst, n, imatrix);
}
void quantize_row_q4_1_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_avx2<4, true>(x, static_cast<uint8_t*>(dst), n, imatrix)));
  quantize_row_q4_1_ref(x, dst, n, imatrix);
}
void quantize_row_q5_0_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_avx2<5, false>(x, static_cast<uint8_t*>(dst), n, imatrix)));
  quantize_row_q5_0_ref(x, dst, n, imatrix);
}
void quantize_row_q5_1_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2((quantize_avx2<5, true>(x, static_cast<uint8_t*>(dst), n, imatrix)));
  quantize_row_q5_1_ref(x, dst, n, imatrix);
}
// Q8_0 ignores the imatrix, as its reference does.
void quantize_row_q8_0_fast(const float* x, void* dst, int64_t n, const float* imatrix) {
  QKV_TRY_AVX2(quantize_q8_0_avx2(x, static_cast<uint8_t*>(dst), n / QK));
  quantize_row_q8_0_ref(x, dst, n, imatrix);
}

void dequantize_row_q4_0_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2((dequantize_avx2<4, false>(static_cast<const uint8_t*>(src), y, n / QK)));
  dequantize_row_q4_0_ref(src, y, n);
}
void dequantize_row_q4_1_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2((dequantize_avx2<4, true>(static_cast<const uint8_t*>(src), y, n / QK)));
  dequantize_row_q4_1_ref(src, y, n);
}
void dequantize_row_q5_0_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2((dequantize_avx2<5, false>(static_cast<const uint8_t*>(src), y, n / QK)));
  dequantize_row_q5_0_ref(src, y, n);
}
void dequantize_row_q5_1_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2((dequantize_avx2<5, true>(static_cast<const uint8_t*>(src), y, n / QK)));
  dequantize_row_q5_1_ref(src, y, n);
}
void dequantize_row_q8_0_fast(const void* src, float* y, int64_t n) {
  QKV_TRY_AVX2(dequantize_q8_0_avx2(static_cast<const uint8_t*>(src), y, n / QK));
  dequantize_row_q8_0_ref(src, y, n);
}

}  // namespace qkv::quant
