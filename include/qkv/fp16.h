// fp32 <-> fp16 and fp32 <-> bf16, bit-identical to ggml's conversions:
// round to nearest even; a NaN becomes a quiet NaN (fp16: sign | 0x7E00,
// bf16: the high half with the quiet bit forced); infinities are kept and
// fp16 overflow goes to infinity.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace qkv {

inline uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (ax >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to inf
  if (ax >= 0x38800000u) {                                              // normal half (>= 2^-14)
    const uint32_t r = ax + 0xFFFu + ((ax >> 13) & 1u);                 // round to nearest even
    return static_cast<uint16_t>(sign | ((r >> 13) - (112u << 10)));
  }
  // Subnormal or zero: adding 0.5f puts the 2^-24 unit of a half subnormal at
  // the last mantissa bit, so the FPU does the round-to-nearest-even for us.
  const float biased = std::bit_cast<float>(ax) + 0.5f;
  return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(biased) - 0x3F000000u));
}

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (man << 13) | (man ? 0x400000u : 0u));
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
  // Zero or subnormal: man * 2^-24, exact in float.
  const float v = static_cast<float>(man) * 0x1p-24f;
  return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(v));
}

inline uint16_t fp32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 64u);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

inline float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

// Row conversions; vectorised (SIMD) where the CPU allows, same bits as above.
void fp32_to_fp16_row(const float* src, uint16_t* dst, size_t n);
void fp16_to_fp32_row(const uint16_t* src, float* dst, size_t n);
void fp32_to_bf16_row(const float* src, uint16_t* dst, size_t n);
void bf16_to_fp32_row(const uint16_t* src, float* dst, size_t n);

}  // namespace qkv
