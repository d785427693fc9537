// fp16 / bf16 conversions: exhaustive over all 65536 half values, checked
// against independent oracles (exact math in double; the compiler's own
// _Float16 rounding), and SIMD rows against the scalar functions.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "qkv/fp16.h"

namespace qkv {
namespace {

// The value a half encodes, computed from its fields in double.
double half_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
  const double mag = exp == 0 ? std::ldexp(man, -24) : std::ldexp(1024 + man, exp - 25);
  return sign ? -mag : mag;
}

TEST(Fp16, AllHalfValuesToFloatAreExact) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    const int exp = (h >> 10) & 31;
    if (exp == 31) {
      if ((h & 1023) == 0) {
        EXPECT_TRUE(std::isinf(f) && std::signbit(f) == bool(h >> 15)) << h;
      } else {
        const uint32_t bits = std::bit_cast<uint32_t>(f);
        EXPECT_TRUE(std::isnan(f)) << h;
        EXPECT_TRUE(bits & 0x400000u) << "NaN must come out quiet: " << h;
        EXPECT_EQ((bits >> 13) & 0x1FFu, h & 0x1FFu) << "NaN payload kept: " << h;
        EXPECT_EQ(bits >> 31, h >> 15u) << h;
      }
      continue;
    }
    EXPECT_EQ(static_cast<double>(f), half_value(static_cast<uint16_t>(h))) << h;
    EXPECT_EQ(std::signbit(f), bool(h >> 15)) << h;
  }
}

TEST(Fp16, AllHalfValuesRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h)));
    if (((h >> 10) & 31) == 31 && (h & 1023)) {
      EXPECT_EQ(back, (h & 0x8000u) | 0x7E00u) << "NaN becomes the canonical quiet NaN, as in ggml: " << h;
    } else {
      EXPECT_EQ(back, h);
    }
  }
}

// Every float between two adjacent halves rounds to the nearer one, ties to even.
TEST(Fp16, RoundsToNearestEvenBetweenEveryPairOfHalves) {
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    const float lo = fp16_to_fp32(static_cast<uint16_t>(h));
    const float hi = h + 1 == 0x7C00 ? 65536.0f : fp16_to_fp32(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((static_cast<double>(lo) + hi) / 2);  // exact in float
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    for (uint16_t sign : {uint16_t(0), uint16_t(0x8000)}) {
      const float s = sign ? -1.0f : 1.0f;
      EXPECT_EQ(fp32_to_fp16(s * mid), even | sign) << "tie above half " << h;
      EXPECT_EQ(fp32_to_fp16(s * std::nextafter(mid, 0.0f)), h | sign) << h;
      EXPECT_EQ(fp32_to_fp16(s * std::nextafter(mid, 1e9f)), (h + 1) | sign) << h;
    }
  }
}

TEST(Fp16, SpecialValues) {
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(1e30f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(NAN), 0x7E00);
  EXPECT_EQ(fp32_to_fp16(-NAN), 0xFE00);
  EXPECT_EQ(fp32_to_fp16(std::bit_cast<float>(0x7F800001u)), 0x7E00) << "signalling NaN";
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000) << "exactly half the smallest subnormal ties to even (zero)";
  EXPECT_EQ(fp32_to_fp16(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(1e-30f), 0x0000);
}

#if defined(__FLT16_MAX__)
// The compiler's _Float16 conversion is an independent IEEE implementation.
TEST(Fp16, MatchesCompilerFloat16OnRandomFloats) {
  std::mt19937 rng(42);
  for (int i = 0; i < 2000000; ++i) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (std::isnan(f)) continue;
    const _Float16 h = static_cast<_Float16>(f);
    EXPECT_EQ(fp32_to_fp16(f), std::bit_cast<uint16_t>(h)) << std::hexfloat << f;
  }
}
#endif

TEST(Bf16, RoundTripAndRounding) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(h));
    const bool nan = ((h >> 7) & 0xFF) == 0xFF && (h & 0x7F);
    EXPECT_EQ(fp32_to_bf16(f), nan ? (h | 64u) : h) << h;
  }
  // Ties to even, and NaN stays NaN even when its payload sits in the low bits.
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7F800001u)), 0x7FC0);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7F7FFFFFu)), 0x7F80) << "max float rounds to inf";
}

TEST(Fp16, SimdRowsEqualScalar) {
  std::mt19937 rng(7);
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 1000u, 4099u}) {
    std::vector<float> f(n);
    std::vector<uint16_t> h(n), h_ref(n), b(n), b_ref(n);
    for (size_t i = 0; i < n; ++i) f[i] = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (n > 3) f[1] = NAN, f[2] = -INFINITY, f[3] = std::bit_cast<float>(0xFF800123u);
    fp32_to_fp16_row(f.data(), h.data(), n);
    fp32_to_bf16_row(f.data(), b.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(h[i], fp32_to_fp16(f[i])) << i;
      ASSERT_EQ(b[i], fp32_to_bf16(f[i])) << i;
    }
    std::vector<uint16_t> all(n);
    for (size_t i = 0; i < n; ++i) all[i] = static_cast<uint16_t>(rng());
    std::vector<float> out(n), out_b(n);
    fp16_to_fp32_row(all.data(), out.data(), n);
    bf16_to_fp32_row(all.data(), out_b.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(fp16_to_fp32(all[i]))) << i;
      ASSERT_EQ(std::bit_cast<uint32_t>(out_b[i]), std::bit_cast<uint32_t>(bf16_to_fp32(all[i]))) << i;
    }
  }
}

}  // namespace
}  // namespace qkv
