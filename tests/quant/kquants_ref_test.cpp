// Q2_K, Q3_K, Q4_K, Q5_K and Q6_K: properties of the reference quantizers
// that need no golden data (golden_test.cpp holds them to ggml's bytes).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/golden.h"
#include "quant/ref.h"

namespace qkv::quant {
namespace {

struct KQuant {
  const char* name;
  test::QuantizeRowFn quantize;
  test::DequantizeRowFn dequantize;
  int block_bytes;
  float max_rel_rmse;  // quality floor on GaussianErrorFloor's data, ~1.5x what ggml's algorithm reaches
};

const KQuant kTypes[] = {
    {"Q2_K", quantize_row_q2_K_ref, dequantize_row_q2_K_ref, 84, 0.44f},
    {"Q3_K", quantize_row_q3_K_ref, dequantize_row_q3_K_ref, 110, 0.22f},
    {"Q4_K", quantize_row_q4_K_ref, dequantize_row_q4_K_ref, 144, 0.11f},
    {"Q5_K", quantize_row_q5_K_ref, dequantize_row_q5_K_ref, 176, 0.054f},
    {"Q6_K", quantize_row_q6_K_ref, dequantize_row_q6_K_ref, 210, 0.027f},
};

std::vector<float> roundtrip(const KQuant& t, const std::vector<float>& x, const float* imatrix) {
  std::vector<uint8_t> q(x.size() / 256 * t.block_bytes);
  std::vector<float> y(x.size());
  t.quantize(x.data(), q.data(), static_cast<int64_t>(x.size()), imatrix);
  t.dequantize(q.data(), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

// The golden cases' importance matrix (see ../shared/golden/quant/README.md).
std::vector<float> test_imatrix(size_t n) {
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = 1.0f + static_cast<float>((37 * i) % 101) / 10.0f;
  return w;
}

TEST(KQuantRef, ZeroSuperblockGivesZeros) {
  const std::vector<float> x(512, 0.f);
  const auto w = test_imatrix(x.size());
  for (const auto& t : kTypes)
    for (const float* imatrix : {static_cast<const float*>(nullptr), w.data()})
      for (float v : roundtrip(t, x, imatrix)) ASSERT_EQ(v, 0.f) << t.name << (imatrix ? " imatrix" : "");
}

// A constant super-block is one level times one scale (less a min), so only
// the fp16 and few-bit roundings of the scales remain: under 1% (Q6_K's 8-bit
// sub-scale is the coarsest, about 0.5%).
TEST(KQuantRef, ConstantSuperblocksRoundTrip) {
  for (float c : {0.5f, -0.25f, 0.02f, 3000.f}) {
    const std::vector<float> x(512, c);
    const auto w = test_imatrix(x.size());
    for (const auto& t : kTypes)
      for (const float* imatrix : {static_cast<const float*>(nullptr), w.data()})
        for (float v : roundtrip(t, x, imatrix)) {
          ASSERT_TRUE(std::isfinite(v)) << t.name;
          ASSERT_NEAR(v, c, 1e-2f * std::fabs(c)) << t.name << " c=" << c << (imatrix ? " imatrix" : "");
        }
  }
}

TEST(KQuantRef, GaussianErrorFloor) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.f, 0.02f);
  std::vector<float> x(4096);
  for (auto& v : x) v = normal(rng);
  const auto w = test_imatrix(x.size());
  for (const auto& t : kTypes)
    for (const float* imatrix : {static_cast<const float*>(nullptr), w.data()}) {
      const auto y = roundtrip(t, x, imatrix);
      double err = 0, norm = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        err += double(y[i] - x[i]) * (y[i] - x[i]);
        norm += double(x[i]) * x[i];
      }
      EXPECT_LT(std::sqrt(err / norm), t.max_rel_rmse) << t.name << (imatrix ? " imatrix" : "");
    }
}

}  // namespace
}  // namespace qkv::quant
