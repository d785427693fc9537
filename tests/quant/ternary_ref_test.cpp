// TQ1_0 and TQ2_0: properties of the reference quantizers that need no golden
// data (golden_test.cpp holds them to ggml's bytes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "quant/ref.h"

namespace qkv::quant {
namespace {

std::vector<float> tq1_roundtrip(const std::vector<float>& x, const float* imatrix = nullptr) {
  std::vector<uint8_t> q(x.size() / 256 * 54);
  std::vector<float> y(x.size());
  quantize_row_tq1_0_ref(x.data(), q.data(), static_cast<int64_t>(x.size()), imatrix);
  dequantize_row_tq1_0_ref(q.data(), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

std::vector<float> tq2_roundtrip(const std::vector<float>& x, const float* imatrix = nullptr) {
  std::vector<uint8_t> q(x.size() / 256 * 66);
  std::vector<float> y(x.size());
  quantize_row_tq2_0_ref(x.data(), q.data(), static_cast<int64_t>(x.size()), imatrix);
  dequantize_row_tq2_0_ref(q.data(), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

// -c, 0, +c in a pattern that touches every trit position of both layouts.
std::vector<float> ternary_row(float c) {
  std::vector<float> x(512);
  for (size_t i = 0; i < x.size(); ++i) x[i] = c * static_cast<float>(static_cast<int>((i * 7 + i / 3) % 3) - 1);
  return x;
}

TEST(TernaryRef, ZeroInputGivesZeros) {
  const std::vector<float> x(512, 0.f);
  for (float v : tq1_roundtrip(x)) ASSERT_EQ(v, 0.f);
  for (float v : tq2_roundtrip(x)) ASSERT_EQ(v, 0.f);
}

// Ternary data with an fp16-exact magnitude survives both formats unchanged.
TEST(TernaryRef, TernaryInputIsExact) {
  const auto x = ternary_row(0.375f);
  EXPECT_EQ(tq1_roundtrip(x), x);
  EXPECT_EQ(tq2_roundtrip(x), x);
}

// Both formats pick the same trits and scale; they differ only in packing.
TEST(TernaryRef, FormatsAgreeAndIgnoreImatrix) {
  std::vector<float> x(512), w(512, 3.f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  const auto y1 = tq1_roundtrip(x), y2 = tq2_roundtrip(x);
  EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)), 0);
  EXPECT_EQ(tq1_roundtrip(x, w.data()), y1);
  EXPECT_EQ(tq2_roundtrip(x, w.data()), y2);
}

}  // namespace
}  // namespace qkv::quant
