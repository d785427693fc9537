// The ternary formats TQ1_0 and TQ2_0 (BitNet b1.58, TriLMs): each element is
// -1, 0 or +1 times the block's d = max |x|, in 256-element blocks (layouts
// in quant/blocks.h).
//
//   TQ1_0  qs[48], qh[4], d:half   (1.6875 bits per element)
//   TQ2_0  qs[64], d:half          (2.0625 bits per element)
//
// TQ1_0 packs 5 trits per byte as a fixed-point fraction: the base-3 number
// t0 t1 t2 t3 t4 (t0 most significant) is stored as ceil(value * 256 / 243),
// so multiplying the byte by 3 moves the next trit into bits 8..9. Bytes
// qs[0..32) hold elements m + 32n (n = 0..4), qs[32..48) hold 160 + m + 16n,
// and qh[0..4) hold 4 trits (240 + j + 4n) in the top positions.
// TQ2_0 stores 2 bits per element: byte j + m of each 32-byte group holds
// element 128*(j/32) + m + 32n at bits 2n..2n+1.
//
// ggml ignores the imatrix for both, and rounds with lroundf (ties away from
// zero, unlike nearest_int).
#include <algorithm>
#include <cmath>

#include "quant/blocks.h"
#include "quant/ref.h"
#include "quant/ref_common.h"

namespace qkv::quant {
namespace {

using detail::load_half;
using detail::store_half;

// Stores d = max |x| and returns 1/d (0 for an all-zero block).
float store_scale(const float* x, uint8_t* d_out) {
  float amax = 0;
  for (int j = 0; j < QK_K; ++j) amax = std::max(amax, std::fabs(x[j]));
  store_half(d_out, amax);
  return amax ? 1.0f / amax : 0.0f;
}

// The trit of x: 0, 1, 2 for -1, 0, +1.
int trit(float x, float id) { return static_cast<int>(std::lround(x * id)) + 1; }

// Packs `count` trits, element stride `stride`, into one fixed-point byte;
// fewer than 5 trits are shifted up to the most significant positions.
uint8_t pack_trits(const float* x, int count, int stride, float id) {
  int q = 0;
  for (int n = 0; n < count; ++n) q = q * 3 + trit(x[n * stride], id);
  for (int n = count; n < 5; ++n) q *= 3;
  return static_cast<uint8_t>((q * 256 + 242) / 243);  // ceil(q * 256 / 243)
}

// Trit n (0 = most significant) of a packed byte, as -1, 0 or +1.
int unpack_trit(uint8_t byte, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t shifted = static_cast<uint8_t>(byte * kPow3[n]);  // mod 256 drops the trits above n
  return ((shifted * 3) >> 8) - 1;
}

}  // namespace

void quantize_row_tq1_0_ref(const float* x, void* dst, int64_t n, const float* /*imatrix*/) {
  auto* b = static_cast<block_tq1_0*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K, ++b) {
    const float id = store_scale(x, b->d);
    for (int m = 0; m < 32; ++m) b->qs[m] = pack_trits(x + m, 5, 32, id);
    for (int m = 0; m < 16; ++m) b->qs[32 + m] = pack_trits(x + 160 + m, 5, 16, id);
    for (int j = 0; j < 4; ++j) b->qh[j] = pack_trits(x + 240 + j, 4, 4, id);
  }
}

void dequantize_row_tq1_0_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_tq1_0*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b, y += QK_K) {
    const float d = load_half(b->d);
    for (int t = 0; t < 5; ++t)
      for (int m = 0; m < 32; ++m) y[m + 32 * t] = static_cast<float>(unpack_trit(b->qs[m], t)) * d;
    for (int t = 0; t < 5; ++t)
      for (int m = 0; m < 16; ++m) y[160 + m + 16 * t] = static_cast<float>(unpack_trit(b->qs[32 + m], t)) * d;
    for (int t = 0; t < 4; ++t)
      for (int j = 0; j < 4; ++j) y[240 + j + 4 * t] = static_cast<float>(unpack_trit(b->qh[j], t)) * d;
  }
}

void quantize_row_tq2_0_ref(const float* x, void* dst, int64_t n, const float* /*imatrix*/) {
  auto* b = static_cast<block_tq2_0*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K, ++b) {
    const float id = store_scale(x, b->d);
    for (int g = 0; g < 2; ++g)
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int t = 0; t < 4; ++t) q |= trit(x[128 * g + m + 32 * t], id) << (2 * t);
        b->qs[32 * g + m] = static_cast<uint8_t>(q);
      }
  }
}

void dequantize_row_tq2_0_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_tq2_0*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b, y += QK_K) {
    const float d = load_half(b->d);
    for (int g = 0; g < 2; ++g)
      for (int t = 0; t < 4; ++t)
        for (int m = 0; m < 32; ++m)
          y[128 * g + 32 * t + m] = static_cast<float>(((b->qs[32 * g + m] >> (2 * t)) & 3) - 1) * d;
  }
}

}  // namespace qkv::quant
