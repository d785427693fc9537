#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "qkv/sampler.h"

namespace qkv {
namespace {

TEST(Sampler, GreedyPicksTheArgmax) {
  SamplerParams p;
  p.temperature = 0;
  Sampler s(p);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 2.9f}), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(100);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(float(i));
  SamplerParams p;
  p.top_k = 0, p.top_p = 1, p.min_p = 0, p.temperature = 1.5f;
  Sampler a(p), b(p);
  p.seed += 1;
  Sampler c(p);
  int differ = 0;
  for (int i = 0; i < 50; ++i) {
    const int x = a.sample(logits), y = b.sample(logits), z = c.sample(logits);
    EXPECT_EQ(x, y);
    differ += x != z;
  }
  EXPECT_GT(differ, 0) << "a different seed must give different draws";
}

// With only temperature, draws follow softmax(logits / T).
TEST(Sampler, FrequenciesFollowTheDistribution) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  SamplerParams p;
  p.top_k = 0, p.top_p = 1, p.min_p = 0, p.temperature = 1.0f;
  Sampler s(p);
  std::map<int, int> n;
  const int N = 30000;
  for (int i = 0; i < N; ++i) ++n[s.sample(logits)];
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(n[k] / double(N), std::exp(double(k)) / z, 0.015) << k;
}

TEST(Sampler, TopKTopPMinPTruncate) {
  const std::vector<float> logits = {5.0f, 4.9f, 1.0f, 0.0f, -3.0f};
  for (int trial = 0; trial < 3; ++trial) {
    SamplerParams p;
    p.top_k = trial == 0 ? 2 : 0;
    p.top_p = trial == 1 ? 0.5f : 1.0f;
    p.min_p = trial == 2 ? 0.5f : 0.0f;
    p.temperature = 1.0f;
    Sampler s(p);
    for (int i = 0; i < 500; ++i) {
      const int t = s.sample(logits);
      if (trial == 1) EXPECT_EQ(t, 0) << "top-p 0.5 keeps only the best token (its mass is 0.51)";
      else EXPECT_LE(t, 1) << "trial " << trial;
    }
  }
}

TEST(Sampler, RepeatPenaltyDemotesRecentTokens) {
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  s.accept(0);
  EXPECT_EQ(s.sample(std::vector<float>{3.0f, 2.0f}), 1) << "3 / 2 = 1.5 < 2";
  SamplerParams f;
  f.temperature = 0;
  f.frequency_penalty = 0.6f;
  Sampler s2(f);
  s2.accept(0), s2.accept(0);
  EXPECT_EQ(s2.sample(std::vector<float>{3.0f, 2.0f}), 1) << "3 - 2 * 0.6 = 1.8 < 2";
}

}  // namespace
}  // namespace qkv
