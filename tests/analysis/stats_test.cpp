// Statistics against values whose moments are known in closed form, and
// against a plain double-precision computation written here.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "qkv/analysis.h"

namespace qkv::analysis {
namespace {

struct Direct {
  double mean = 0, stddev = 0, kurtosis = 0, max_abs = 0;
  uint64_t zeros = 0, beyond = 0, count = 0;
};

// The textbook two-pass definitions, over the finite values.
Direct direct(const std::vector<float>& w) {
  Direct d;
  double sum = 0;
  for (float x : w)
    if (std::isfinite(x)) sum += x, ++d.count, d.zeros += x == 0, d.max_abs = std::max(d.max_abs, double(std::fabs(x)));
  d.mean = sum / double(d.count);
  double m2 = 0, m4 = 0;
  for (float x : w)
    if (std::isfinite(x)) {
      const double e = x - d.mean;
      m2 += e * e;
      m4 += e * e * e * e;
    }
  m2 /= double(d.count);
  m4 /= double(d.count);
  d.stddev = std::sqrt(m2);
  d.kurtosis = m4 / (m2 * m2);
  for (float x : w) d.beyond += std::isfinite(x) && std::fabs(x - d.mean) > 6 * d.stddev;
  return d;
}

TEST(AnalysisStats, ClosedFormMoments) {
  // {-2, 0, 0, 2} repeated: mean 0, variance 2, E[x^4] = 8, kurtosis 8 / 4 = 2, half zeros.
  std::vector<float> w;
  for (int i = 0; i < 100000; ++i) w.insert(w.end(), {-2.0f, 0.0f, 0.0f, 2.0f});
  const Stats s = compute_stats(w, 3);
  EXPECT_EQ(s.count, w.size());
  EXPECT_EQ(s.zeros, w.size() / 2);
  EXPECT_DOUBLE_EQ(s.mean, 0.0);
  EXPECT_NEAR(s.stddev, std::sqrt(2.0), 1e-14);
  EXPECT_NEAR(s.kurtosis, 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.max_abs, 2.0);
  EXPECT_NEAR(s.max_abs_over_std(), std::sqrt(2.0), 1e-12);
  EXPECT_EQ(s.beyond_6_sigma, 0u);
  EXPECT_DOUBLE_EQ(s.zero_fraction(), 0.5);

  // A uniform grid on [-1, 1]: kurtosis tends to 9/5.
  std::vector<float> u(200001);
  for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<float>(-1.0 + 2.0 * double(i) / double(u.size() - 1));
  EXPECT_NEAR(compute_stats(u).kurtosis, 1.8, 1e-4);
}

TEST(AnalysisStats, GaussianWithOutliersMatchesDirectComputation) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.25f, 0.02f);
  std::vector<float> w(300007);
  for (auto& x : w) x = g(rng);
  for (size_t i = 0; i < w.size(); i += 5003) w[i] = 0.25f + 0.2f;  // 10 sigma
  w[17] = 0.0f;
  const Direct d = direct(w);
  const Stats s = compute_stats(w, 4);
  EXPECT_NEAR(s.mean, d.mean, 1e-12);
  EXPECT_NEAR(s.stddev, d.stddev, 1e-12 * d.stddev);
  EXPECT_NEAR(s.kurtosis, d.kurtosis, 1e-9 * d.kurtosis);
  EXPECT_DOUBLE_EQ(s.max_abs, d.max_abs);
  EXPECT_EQ(s.zeros, d.zeros);
  EXPECT_EQ(s.beyond_6_sigma, d.beyond);
  EXPECT_GT(s.beyond_6_sigma, 50u);
  EXPECT_GT(s.kurtosis, 3.5) << "the outliers make the tails heavy";

  // Threads never change a bit.
  const Stats one = compute_stats(w, 1);
  EXPECT_EQ(one.mean, s.mean);
  EXPECT_EQ(one.stddev, s.stddev);
  EXPECT_EQ(one.kurtosis, s.kurtosis);
}

TEST(AnalysisStats, NonFiniteValuesAreCountedAndLeftOut) {
  std::vector<float> w = {1, 2, 3, 4, NAN, INFINITY, -INFINITY};
  const Stats s = compute_stats(w);
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.nonfinite, 3u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.stddev, std::sqrt(1.25), 1e-15);
  EXPECT_DOUBLE_EQ(s.max_abs, 4.0);
  const Stats empty = compute_stats({});
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.stddev, 0.0);
}

TEST(AnalysisStats, HistogramBinsStandardisedValues) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(-1.0f, 0.5f);
  std::vector<float> w(100000);
  for (auto& x : w) x = g(rng);
  w[0] = -1.0f + 0.5f * 9;   // above +8 sigma (roughly: the sample sigma is close to 0.5)
  w[1] = -1.0f - 0.5f * 10;  // below
  w[2] = NAN;
  const Stats s = compute_stats(w);
  const Histogram h = standardized_histogram(w, s, 4);
  EXPECT_EQ(h.total(), s.count);
  Histogram expect;
  for (float x : w) {
    if (!std::isfinite(x)) continue;
    const double z = (x - s.mean) / s.stddev;
    const double pos = std::floor((z + Histogram::kRange) * Histogram::kBins / (2 * Histogram::kRange));
    if (pos < 0) ++expect.below;
    else if (pos >= Histogram::kBins) ++expect.above;
    else ++expect.bins[size_t(pos)];
  }
  EXPECT_EQ(h.bins, expect.bins);
  EXPECT_EQ(h.below, 1u);
  EXPECT_EQ(h.above, 1u);
  // The bins around 0 hold about 2 * (Phi(1/6) - Phi(0)) = 13.2% of a Gaussian.
  const double centre = double(h.bins[Histogram::kBins / 2 - 1] + h.bins[Histogram::kBins / 2]) / double(h.total());
  EXPECT_NEAR(centre, std::erf(1.0 / 6 / std::sqrt(2.0)), 0.01);
}

}  // namespace
}  // namespace qkv::analysis
