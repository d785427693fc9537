// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0: properties of the reference quantizers
// that need no golden data (golden_test.cpp holds them to ggml's bytes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "quant/golden.h"
#include "quant/ref.h"

namespace qkv::quant {
namespace {

struct Legacy {
  const char* name;
  test::QuantizeRowFn quantize;
  test::DequantizeRowFn dequantize;
  int block_bytes;
  int levels;    // distinct quantized values
  bool has_min;  // x = q*d + m rather than x = q*d
};

const Legacy kTypes[] = {
    {"Q4_0", quantize_row_q4_0_ref, dequantize_row_q4_0_ref, 18, 16, false},
    {"Q4_1", quantize_row_q4_1_ref, dequantize_row_q4_1_ref, 20, 16, true},
    {"Q5_0", quantize_row_q5_0_ref, dequantize_row_q5_0_ref, 22, 32, false},
    {"Q5_1", quantize_row_q5_1_ref, dequantize_row_q5_1_ref, 24, 32, true},
    {"Q8_0", quantize_row_q8_0_ref, dequantize_row_q8_0_ref, 34, 255, false},
};

std::vector<float> roundtrip(const Legacy& t, const std::vector<float>& x, const float* imatrix) {
  std::vector<uint8_t> q(x.size() / 32 * t.block_bytes);
  std::vector<float> y(x.size());
  t.quantize(x.data(), q.data(), static_cast<int64_t>(x.size()), imatrix);
  t.dequantize(q.data(), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

std::vector<float> test_imatrix(size_t n) {
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = 1.0f + static_cast<float>((37 * i) % 101) / 10.0f;
  return w;
}

TEST(LegacyRef, ZeroInputGivesZeros) {
  const std::vector<float> x(64, 0.f);
  const auto w = test_imatrix(x.size());
  for (const auto& t : kTypes)
    for (const float* imatrix : {static_cast<const float*>(nullptr), w.data()})
      for (float v : roundtrip(t, x, imatrix)) ASSERT_EQ(v, 0.f) << t.name << (imatrix ? " imatrix" : "");
}

TEST(LegacyRef, ConstantBlocksRoundTrip) {
  for (float c : {0.5f, -0.25f, 0.02f, 3000.f}) {
    const std::vector<float> x(64, c);
    const auto w = test_imatrix(x.size());
    for (const auto& t : kTypes)
      for (const float* imatrix : {static_cast<const float*>(nullptr), w.data()})
        for (float v : roundtrip(t, x, imatrix))
          ASSERT_NEAR(v, c, 1e-3f * std::fabs(c)) << t.name << " c=" << c << (imatrix ? " imatrix" : "");
  }
}

// Without an imatrix the scale comes from the block's range, so no element is
// off by more than one quantization step: 2*amax/levels for the symmetric types
// (whose top level may be clipped), (max - min)/(levels - 1) for the others.
// The 1% slack covers the fp16 rounding of the scale.
TEST(LegacyRef, PlainErrorWithinOneStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 0.02f);
  std::vector<float> x(1024);
  for (auto& v : x) v = normal(rng);
  for (const auto& t : kTypes) {
    const auto y = roundtrip(t, x, nullptr);
    for (size_t b = 0; b < x.size(); b += 32) {
      float lo = x[b], hi = x[b], amax = 0;
      for (size_t j = b; j < b + 32; ++j) {
        lo = std::min(lo, x[j]);
        hi = std::max(hi, x[j]);
        amax = std::max(amax, std::fabs(x[j]));
      }
      const float step =
          t.has_min ? (hi - lo) / static_cast<float>(t.levels - 1) : 2 * amax / static_cast<float>(t.levels);
      for (size_t j = b; j < b + 32; ++j) ASSERT_LE(std::fabs(y[j] - x[j]), step * 1.01f) << t.name << " " << j;
    }
  }
}

TEST(LegacyRef, Q8_0IgnoresImatrix) {
  std::vector<float> x(64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
  const auto w = test_imatrix(x.size());
  std::vector<uint8_t> plain(68), weighted(68);
  quantize_row_q8_0_ref(x.data(), plain.data(), 64, nullptr);
  quantize_row_q8_0_ref(x.data(), weighted.data(), 64, w.data());
  EXPECT_EQ(plain, weighted);
}

}  // namespace
}  // namespace qkv::quant
