// Activation quantizers: one token's float input vector in the format that a
// weight type's dot product consumes (runtime/vec_dot.h).
//
// Q8_0 and Q8_1 follow llama.cpp's x86 CPU backend (quantize_row_q8_0 / _q8_1
// in ggml-cpu/arch/x86/quants.c), which llama.cpp runs on every AVX machine,
// rather than ggml's scalar quantize_row_q8_0_ref: the inverse scale is
// 127 / amax (not 1 / d) and x * id rounds half to even (_mm256_round_ps), not
// away from zero (roundf). Q8_K has no x86 variant; it is ggml's
// quantize_row_q8_K_ref.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "qkv/error.h"
#include "qkv/fp16.h"
#include "quant/blocks.h"
#include "runtime/vec_dot.h"

namespace qkv::ops {
namespace {

constexpr int64_t kQ8Block = QK, kQ8KBlock = QK_K;
constexpr size_t kQ8_0Bytes = sizeof(block_q8_0), kQ8_1Bytes = sizeof(block_q8_1), kQ8KBytes = sizeof(block_q8_K);

// x rounded to the nearest integer, ties to even (the default rounding mode,
// as _mm256_round_ps and ggml's nearest_int round), saturated to int8 as
// ggml's pack instructions do; a NaN fails both tests and becomes -128, as it
// does there. ggml's trick of adding 1.5 * 2^23 is not used: under
// -march=native the compiler may fuse that addition with the product x * id
// into one FMA, which rounds once instead of twice and resolves some ties
// differently from llama.cpp.
int round_to_int8(float x) {
  const float r = std::nearbyint(x);
  return r >= 127.f ? 127 : r >= -128.f ? static_cast<int>(r) : -128;
}

void store_half(uint8_t* p, float f) {
  const uint16_t h = fp32_to_fp16(f);
  p[0] = static_cast<uint8_t>(h);
  p[1] = static_cast<uint8_t>(h >> 8);
}

// One 32-element Q8_0 / Q8_1 block: d = amax / 127, q = round(x * 127 / amax),
// the levels stored at qs. Returns d and the sum of the levels (Q8_1 stores d * sum).
float quantize_block_q8(const float* x, uint8_t* qs, int* sum) {
  float amax = 0;
  for (int j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  int8_t q[kQ8Block];
  *sum = 0;
  for (int j = 0; j < kQ8Block; ++j) {
    // |x * id| <= 127 up to rounding, so the clamp (the SIMD code's saturating pack) never bites.
    q[j] = static_cast<int8_t>(round_to_int8(x[j] * id));
    *sum += q[j];
  }
  std::memcpy(qs, q, sizeof q);
  return d;
}

void quantize_q8_0(const float* x, uint8_t* out, int64_t n) {
  for (int64_t i = 0; i < n / kQ8Block; ++i, x += kQ8Block, out += kQ8_0Bytes) {
    int sum;
    store_half(out + offsetof(block_q8_0, d), quantize_block_q8(x, out + offsetof(block_q8_0, qs), &sum));
  }
}

void quantize_q8_1(const float* x, uint8_t* out, int64_t n) {
  for (int64_t i = 0; i < n / kQ8Block; ++i, x += kQ8Block, out += kQ8_1Bytes) {
    int sum;
    const float d = quantize_block_q8(x, out + offsetof(block_q8_1, qs), &sum);
    store_half(out + offsetof(block_q8_1, d), d);
    store_half(out + offsetof(block_q8_1, s), d * static_cast<float>(sum));
  }
}

// Q8_K: the element of largest magnitude maps to -127 (so d may be negative),
// q = min(127, round(x * -127 / max)), d = 1 / iscale; bsums are the sums of
// each 16 levels, which the K-quant kernels use for the blocks' minimums and offsets.
void quantize_q8_K(const float* x, uint8_t* out, int64_t n) {
  for (int64_t i = 0; i < n / kQ8KBlock; ++i, x += kQ8KBlock, out += kQ8KBytes) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQ8KBlock; ++j)
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    int8_t q[kQ8KBlock] = {};
    float d = 0;
    if (amax != 0.f) {
      const float iscale = -127.f / max;
      for (int j = 0; j < kQ8KBlock; ++j) q[j] = static_cast<int8_t>(round_to_int8(iscale * x[j]));
      d = 1 / iscale;
    }
    int16_t bsums[kQ8KBlock / 16];
    for (int b = 0; b < kQ8KBlock / 16; ++b) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += q[16 * b + j];
      bsums[b] = static_cast<int16_t>(sum);
    }
    std::memcpy(out + offsetof(block_q8_K, d), &d, 4);
    std::memcpy(out + offsetof(block_q8_K, qs), q, sizeof q);
    std::memcpy(out + offsetof(block_q8_K, bsums), bsums, sizeof bsums);
  }
}

int64_t block_elems(ActType t) {
  switch (t) {
    case ActType::Q8_0:
    case ActType::Q8_1:
      return kQ8Block;
    case ActType::Q8_K:
      return kQ8KBlock;
    default:
      return 1;
  }
}

}  // namespace

size_t activation_row_bytes(ActType t, int64_t n) {
  const size_t blocks = static_cast<size_t>(n / block_elems(t));
  switch (t) {
    case ActType::F32:
    case ActType::F16:
      return blocks * 4;
    case ActType::BF16:
      return blocks * 2;
    case ActType::Q8_0:
      return blocks * kQ8_0Bytes;
    case ActType::Q8_1:
      return blocks * kQ8_1Bytes;
    case ActType::Q8_K:
      return blocks * kQ8KBytes;
    case ActType::None:
      break;
  }
  throw Error(ErrorKind::Unsupported, "activation_row_bytes: no activation format");
}

void quantize_activations(ActType t, const float* x, void* out, int64_t n) {
  if (n % block_elems(t) != 0)
    throw Error(ErrorKind::Format, "quantize_activations: " + std::to_string(n) + " elements are not whole blocks of " +
                                       std::to_string(block_elems(t)));
  uint8_t* o = static_cast<uint8_t*>(out);
  switch (t) {
    case ActType::F32:
      std::memcpy(o, x, static_cast<size_t>(n) * sizeof(float));
      return;
    case ActType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const float v = fp16_to_fp32(fp32_to_fp16(x[i]));
        std::memcpy(o + 4 * i, &v, 4);
      }
      return;
    case ActType::BF16:
      fp32_to_bf16_row(x, reinterpret_cast<uint16_t*>(o), static_cast<size_t>(n));
      return;
    case ActType::Q8_0:
      return quantize_q8_0(x, o, n);
    case ActType::Q8_1:
      return quantize_q8_1(x, o, n);
    case ActType::Q8_K:
      return quantize_q8_K(x, o, n);
    case ActType::None:
      break;
  }
  throw Error(ErrorKind::Unsupported, "quantize_activations: no activation format");
}

}  // namespace qkv::ops
