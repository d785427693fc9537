// MXFP4 (OCP microscaling FP4): 32 elements share a power-of-two scale.
//
//   e:E8M0 byte, qs[16]     x = E2M1(q) * 2^(e - 127)
//
// E2M1 values are held doubled as small integers (kE2m1Doubled), so the
// arithmetic uses half the scale, 2^(e - 128) -- ggml's ggml_e8m0_to_fp32_half.
// Nibble j of qs holds element j (low) and j + 16 (high). ggml ignores the
// imatrix for this type.
#include <algorithm>
#include <bit>
#include <cmath>

#include "quant/blocks.h"
#include "quant/ref.h"

namespace qkv::quant {
namespace {

// E2M1 codes 0..15 times two: sign bit 3, then 0, 0.5, 1, 1.5, 2, 3, 4, 6.
constexpr int8_t kE2m1Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e - 128) as a float; e = 0 and 1 give the subnormals 2^-128 and 2^-127.
float e8m0_to_fp32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

// The code whose value times d is nearest x (the lowest code on a tie, so
// zero is +0).
int nearest_code(float x, float d) {
  int best = 0;
  float best_err = std::fabs(kE2m1Doubled[0] * d - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(kE2m1Doubled[i] * d - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

// The shared exponent puts the block's largest magnitude in the top binade of
// E2M1 (4..6 doubled), i.e. e = floor(log2 amax) - 2 + 127. ggml computes it in
// float with log2f and converts through int (wrapping mod 256 on x86), which
// this reproduces.
uint8_t shared_exponent(const float* x) {
  float amax = 0;
  for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
  if (!(amax > 0.0f)) return 0;
  return static_cast<uint8_t>(static_cast<int>(std::floor(std::log2(amax)) - 2 + 127));
}

}  // namespace

void quantize_row_mxfp4_ref(const float* x, void* dst, int64_t n, const float* /*imatrix*/) {
  auto* b = static_cast<block_mxfp4*>(dst);
  for (int64_t i = 0; i < n / QK; ++i, x += QK, ++b) {
    const uint8_t e = shared_exponent(x);
    const float d = e8m0_to_fp32_half(e);
    b->e = e;
    for (int j = 0; j < QK / 2; ++j)
      b->qs[j] = static_cast<uint8_t>(nearest_code(x[j], d) | nearest_code(x[j + QK / 2], d) << 4);
  }
}

void dequantize_row_mxfp4_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_mxfp4*>(src);
  for (int64_t i = 0; i < n / QK; ++i, ++b, y += QK) {
    const float d = e8m0_to_fp32_half(b->e);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = kE2m1Doubled[b->qs[j] & 0x0F] * d;
      y[j + QK / 2] = kE2m1Doubled[b->qs[j] >> 4] * d;
    }
  }
}

}  // namespace qkv::quant
