// The codebook quantizers IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and
// IQ3_S: properties that need no golden data (golden_test.cpp holds them to
// ggml's bytes), and the refusal to quantize without the imatrix ggml requires.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "qkv/error.h"
#include "qkv/quant.h"

namespace qkv::quant {
namespace {

using T = TensorType;

struct Iq {
  T type;
  bool needs_imatrix;
  double max_rel_rmse;  // on gaussian rows with the imatrix; ggml's golden cases give 0.14 .. 0.50
};

const Iq kTypes[] = {
    {T::IQ2_XXS, true, 0.40}, {T::IQ2_XS, true, 0.35},  {T::IQ2_S, false, 0.30}, {T::IQ3_XXS, false, 0.23},
    {T::IQ3_S, false, 0.18},  {T::IQ1_S, true, 0.55},   {T::IQ1_M, false, 0.52},
};

std::vector<float> test_imatrix(size_t n) {
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = 1.0f + static_cast<float>((37 * i) % 101) / 10.0f;
  return w;
}

std::vector<float> roundtrip(T t, const std::vector<float>& x, int64_t n_per_row, const float* imatrix) {
  const int64_t rows = int64_t(x.size()) / n_per_row;
  std::vector<uint8_t> q(row_bytes(t, uint64_t(n_per_row)) * uint64_t(rows));
  std::vector<float> y(x.size());
  quantize_reference(t, x.data(), q.data(), rows, n_per_row, imatrix);
  dequantize_reference(t, q.data(), y.data(), rows, n_per_row);
  return y;
}

TEST(IqRef, RefusesWithoutTheImatrixGgmlRequires) {
  const std::vector<float> x(256, 0.5f);
  std::vector<uint8_t> q(1024);
  for (const Iq& t : kTypes) {
    const std::string name(type_name(t.type));
    EXPECT_TRUE(can_quantize(t.type)) << name;
    EXPECT_TRUE(uses_imatrix(t.type)) << name;
    EXPECT_EQ(requires_imatrix(t.type), t.needs_imatrix) << name;
    if (!t.needs_imatrix) continue;
    for (int threads : {1, 2}) {
      try {
        quantize(t.type, x.data(), q.data(), 1, 256, nullptr, threads);
        ADD_FAILURE() << name << " quantized without an imatrix";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage) << name;
        EXPECT_NE(e.message().find("importance matrix"), std::string::npos) << e.message();
      }
    }
  }
  EXPECT_FALSE(requires_imatrix(T::Q4_K));
}

TEST(IqRef, ZeroInputGivesZeros) {
  const std::vector<float> x(512, 0.f);
  const auto w = test_imatrix(256);
  for (const Iq& t : kTypes)
    for (const float* imatrix : {static_cast<const float*>(nullptr), w.data()}) {
      if (t.needs_imatrix && !imatrix) continue;
      for (float v : roundtrip(t.type, x, 256, imatrix)) ASSERT_EQ(v, 0.f) << type_name(t.type);
    }
}

TEST(IqRef, GaussianRowsKeepTheirShape) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 0.02f);
  constexpr int64_t n_per_row = 512;
  std::vector<float> x(4 * n_per_row);
  for (float& v : x) v = normal(rng);
  const auto w = test_imatrix(n_per_row);
  for (const Iq& t : kTypes) {
    const auto y = roundtrip(t.type, x, n_per_row, w.data());
    double err = 0, norm = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      norm += double(x[i]) * x[i];
    }
    EXPECT_LT(std::sqrt(err / norm), t.max_rel_rmse) << type_name(t.type);
  }
}

// Rows are independent: a matrix quantizes to its rows' bytes, one thread or several.
TEST(IqRef, RowsAreIndependent) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.f, 1.f);
  constexpr int64_t n_per_row = 256, rows = 3;
  std::vector<float> x(rows * n_per_row);
  for (float& v : x) v = normal(rng);
  const auto w = test_imatrix(n_per_row);
  for (const Iq& t : kTypes) {
    const uint64_t rb = row_bytes(t.type, n_per_row);
    std::vector<uint8_t> all(rb * rows), one(rb), threaded(rb * rows);
    quantize_reference(t.type, x.data(), all.data(), rows, n_per_row, w.data());
    quantize(t.type, x.data(), threaded.data(), rows, n_per_row, w.data(), 3);
    EXPECT_EQ(all, threaded) << type_name(t.type);
    for (int64_t r = 0; r < rows; ++r) {
      quantize_reference(t.type, x.data() + r * n_per_row, one.data(), 1, n_per_row, w.data());
      EXPECT_TRUE(std::equal(one.begin(), one.end(), all.begin() + r * int64_t(rb))) << type_name(t.type) << " row " << r;
    }
  }
}

// Extreme but finite inputs (huge, subnormal, signed zeros, exact ties) and
// extreme weights: the quantizers finish and write only their blocks.
TEST(IqRef, ExtremeInputsAreQuantized) {
  static const float kExtremes[] = {3.0e38f, -3.0e38f, 1e30f, -1e-30f, 1.2e-38f, -1e-45f, 0.f, -0.f, 65504.f, 1.f};
  std::mt19937 rng(3);
  constexpr int64_t n_per_row = 256;
  for (const Iq& t : kTypes)
    for (int trial = 0; trial < 8; ++trial) {
      std::vector<float> x(n_per_row), w(n_per_row);
      for (float& v : x) v = trial % 2 ? kExtremes[rng() % std::size(kExtremes)] : float(int(rng() % 9) - 4) * 1e-41f;
      for (float& v : w) v = trial % 4 < 2 ? 1.f : std::pow(10.f, float(rng() % 20) - 10.f);
      const uint64_t rb = row_bytes(t.type, n_per_row);
      std::vector<uint8_t> q(rb + 16, 0xAB);
      quantize_reference(t.type, x.data(), q.data(), 1, n_per_row, w.data());
      for (uint64_t i = rb; i < q.size(); ++i) ASSERT_EQ(q[i], 0xAB) << type_name(t.type);
    }
}

}  // namespace
}  // namespace qkv::quant
