// quant_error against an independent computation through the scalar
// reference kernels (quant::quantize_reference / dequantize_reference).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "qkv/analysis.h"
#include "qkv/error.h"
#include "qkv/quant.h"

namespace qkv::analysis {
namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 0.02f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, sigma);
  std::vector<float> w(n);
  for (auto& x : w) x = g(rng);
  return w;
}

// sum a (w - q)^2 / sum a w^2 over `rows`, with the reference kernels.
double reference_rel_error(TensorType t, const std::vector<float>& w, int64_t n_per_row, int64_t rows_per_mat,
                           const std::vector<float>* imp, const std::vector<int64_t>& rows) {
  const uint64_t rb = row_bytes(t, uint64_t(n_per_row));
  std::vector<uint8_t> q(rb);
  std::vector<float> back(static_cast<size_t>(n_per_row));
  double se = 0, sn = 0;
  for (int64_t r : rows) {
    const float* a = imp ? imp->data() + (r / rows_per_mat) * n_per_row : nullptr;
    quant::quantize_reference(t, w.data() + r * n_per_row, q.data(), 1, n_per_row, quant::uses_imatrix(t) ? a : nullptr);
    quant::dequantize_reference(t, q.data(), back.data(), 1, n_per_row);
    double rse = 0, rsn = 0;
    for (int64_t j = 0; j < n_per_row; ++j) {
      const double x = w[size_t(r * n_per_row + j)], d = x - back[size_t(j)], aj = a ? a[j] : 1.0;
      rse += aj * d * d;
      rsn += aj * x * x;
    }
    se += rse;
    sn += rsn;
  }
  return se / sn;
}

TEST(AnalysisErrors, SampleRowsAreEvenAndDeterministic) {
  const auto all = sample_rows(10, 256, 1 << 20);
  ASSERT_EQ(all.size(), 10u);
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(all[size_t(i)], i);
  EXPECT_EQ(sample_rows(10, 256, 0).size(), 10u);
  const auto some = sample_rows(1000, 256, 256 * 10);
  ASSERT_EQ(some.size(), 10u);
  EXPECT_EQ(some.front(), 50);  // floor((i + 1/2) * 1000 / 10)
  EXPECT_EQ(some.back(), 950);
  EXPECT_TRUE(std::is_sorted(some.begin(), some.end()));
  EXPECT_EQ(std::set<int64_t>(some.begin(), some.end()).size(), some.size());
  EXPECT_EQ(sample_rows(1000, 4096, 100).size(), 1u) << "at least one row";
}

TEST(AnalysisErrors, RelativeErrorMatchesTheReferenceKernels) {
  const int64_t n_per_row = 512, nrows = 48;
  const auto w = gaussian(size_t(n_per_row * nrows), 11);
  const auto rows = sample_rows(nrows, n_per_row, 512 * 20);
  ASSERT_EQ(rows.size(), 20u);
  for (TensorType t : {TensorType::Q4_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K, TensorType::Q4_K,
                       TensorType::Q6_K, TensorType::IQ4_NL, TensorType::F16, TensorType::BF16}) {
    SCOPED_TRACE(std::string(type_name(t)));
    const QuantError e = quant_error(t, w, n_per_row, 1, nullptr, rows, 3);
    const double expect = reference_rel_error(t, w, n_per_row, nrows, nullptr, rows);
    EXPECT_NEAR(e.rel_error, expect, 1e-12 * expect);
    EXPECT_NEAR(e.sqnr_db(), 10 * std::log10(1 / expect), 1e-9);
    EXPECT_EQ(e.bytes, row_bytes(t, n_per_row) * uint64_t(nrows));
    EXPECT_DOUBLE_EQ(e.bits_per_weight, 8.0 * type_info(t).block_bytes / type_info(t).block_elems);
    EXPECT_FALSE(e.imatrix_used);
  }
  // Known orders of magnitude: Q8_0 about 40 dB, Q4_0 about 20 dB on a Gaussian.
  EXPECT_GT(quant_error(TensorType::Q8_0, w, n_per_row, 1, nullptr, rows).sqnr_db(), 35);
  const double q4 = quant_error(TensorType::Q4_0, w, n_per_row, 1, nullptr, rows).sqnr_db();
  EXPECT_GT(q4, 15);
  EXPECT_LT(q4, 25);
}

TEST(AnalysisErrors, ImportanceWeightsPerExpert) {
  // Two matrices (experts) of 8 rows, each with its own importance vector.
  const int64_t n_per_row = 256, rows_per_mat = 8, n_mat = 2;
  const auto w = gaussian(size_t(n_per_row * rows_per_mat * n_mat), 12);
  std::vector<float> imp(size_t(n_per_row * n_mat));
  for (size_t i = 0; i < imp.size(); ++i) imp[i] = 0.1f + float((i * 37) % 101) / 10.0f;
  const auto rows = sample_rows(rows_per_mat * n_mat, n_per_row, 0);
  for (TensorType t : {TensorType::Q4_K, TensorType::Q3_K, TensorType::Q8_0}) {
    SCOPED_TRACE(std::string(type_name(t)));
    const QuantError e = quant_error(t, w, n_per_row, n_mat, imp.data(), rows, 2);
    const double expect = reference_rel_error(t, w, n_per_row, rows_per_mat, &imp, rows);
    EXPECT_NEAR(e.rel_error, expect, 1e-12 * expect);
    EXPECT_EQ(e.imatrix_used, quant::uses_imatrix(t));
    // Threads change nothing.
    EXPECT_EQ(quant_error(t, w, n_per_row, n_mat, imp.data(), rows, 1).rel_error, e.rel_error);
  }
  // Weighting changes the measure (and, for K-quants, the quantizer's choices).
  EXPECT_NE(quant_error(TensorType::Q4_K, w, n_per_row, n_mat, imp.data(), rows).rel_error,
            quant_error(TensorType::Q4_K, w, n_per_row, n_mat, nullptr, rows).rel_error);
}

TEST(AnalysisErrors, ExactRoundTripAndBadRows) {
  std::vector<float> w(64, 0.5f);  // exactly representable in F16
  const auto rows = sample_rows(2, 32, 0);
  const QuantError e = quant_error(TensorType::F16, w, 32, 1, nullptr, rows);
  EXPECT_EQ(e.rel_error, 0.0);
  EXPECT_TRUE(std::isinf(e.sqnr_db()));
  EXPECT_THROW(quant_error(TensorType::Q4_K, w, 32, 1, nullptr, rows), Error) << "32 is not a 256-block row";
}

}  // namespace
}  // namespace qkv::analysis
