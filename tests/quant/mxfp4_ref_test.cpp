// MXFP4: properties of the reference quantizer that need no golden data
// (golden_test.cpp holds it to ggml's bytes).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "quant/ref.h"

namespace qkv::quant {
namespace {

std::vector<float> roundtrip(const std::vector<float>& x, const float* imatrix = nullptr) {
  std::vector<uint8_t> q(x.size() / 32 * 17);
  std::vector<float> y(x.size());
  quantize_row_mxfp4_ref(x.data(), q.data(), static_cast<int64_t>(x.size()), imatrix);
  dequantize_row_mxfp4_ref(q.data(), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

TEST(Mxfp4Ref, ZeroInputGivesZeros) {
  for (float v : roundtrip(std::vector<float>(64, 0.f))) ASSERT_EQ(v, 0.f);
}

// Every E2M1 value times a power of two 2^k is stored exactly, over the whole
// range the E8M0 scale covers: k = -127 (shared exponent 0, values below the
// normal floats) to k = 125 (6 * 2^125, near FLT_MAX).
TEST(Mxfp4Ref, RepresentableValuesAreExact) {
  const float e2m1[8] = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f};
  for (int k = -127; k <= 125; k += 4) {
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[j] = (j & 8 ? -1.f : 1.f) * std::ldexp(e2m1[j % 8], k);
    EXPECT_EQ(roundtrip(x), x) << "scale 2^" << k;
  }
}

TEST(Mxfp4Ref, IgnoresImatrix) {
  std::vector<float> x(64), w(64, 5.f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.7f * static_cast<float>(i));
  EXPECT_EQ(roundtrip(x, w.data()), roundtrip(x));
}

}  // namespace
}  // namespace qkv::quant
