// The frontier against brute force over every choice of options.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "qkv/analysis.h"

namespace qkv::analysis {
namespace {

struct Choice {
  uint64_t bytes;
  double error;  // added in tensor order, as the frontier adds them
};

std::vector<Choice> every_choice(const std::vector<std::vector<Option>>& opts) {
  std::vector<Choice> out;
  std::vector<size_t> idx(opts.size(), 0);
  while (true) {
    Choice c{0, 0};
    for (size_t t = 0; t < opts.size(); ++t) c.bytes += opts[t][idx[t]].bytes, c.error += opts[t][idx[t]].error;
    out.push_back(c);
    size_t t = 0;
    while (t < opts.size() && ++idx[t] == opts[t].size()) idx[t++] = 0;
    if (t == opts.size()) break;
  }
  return out;
}

// The choices nothing beats: sorted by size, each with less error than all smaller ones.
std::vector<Choice> pareto_set(std::vector<Choice> all) {
  std::stable_sort(all.begin(), all.end(), [](const Choice& a, const Choice& b) {
    return a.bytes != b.bytes ? a.bytes < b.bytes : a.error < b.error;
  });
  std::vector<Choice> out;
  for (const auto& c : all)
    if (out.empty() || c.error < out.back().error) out.push_back(c);
  return out;
}

// Vertices of the lower convex hull of a Pareto set.
std::vector<Choice> lower_hull(const std::vector<Choice>& p) {
  std::vector<Choice> h;
  for (const auto& c : p) {
    while (h.size() >= 2) {
      const auto& a = h[h.size() - 2];
      const auto& b = h.back();
      if (double(b.bytes - a.bytes) * (c.error - a.error) - (b.error - a.error) * double(c.bytes - a.bytes) > 0) break;
      h.pop_back();
    }
    h.push_back(c);
  }
  return h;
}

std::vector<std::vector<Option>> random_options(std::mt19937& rng) {
  std::vector<std::vector<Option>> opts(1 + rng() % 5);
  for (auto& o : opts) {
    const size_t k = 1 + rng() % 6;
    for (size_t i = 0; i < k; ++i)  // sizes and errors drawn independently: dominated options and ties happen
      o.push_back({1 + rng() % 40, double(rng() % 1000) / 100.0});
  }
  return opts;
}

void expect_consistent(const Frontier& f, const std::vector<std::vector<Option>>& opts) {
  for (size_t k = 0; k < f.points.size(); ++k) {
    const auto& p = f.points[k];
    ASSERT_EQ(p.choice.size(), opts.size());
    Choice sum{0, 0};
    for (size_t t = 0; t < opts.size(); ++t) sum.bytes += opts[t][p.choice[t]].bytes, sum.error += opts[t][p.choice[t]].error;
    EXPECT_EQ(sum.bytes, p.bytes) << "point " << k << " is what its choice adds up to";
    EXPECT_EQ(sum.error, p.error);
    if (k) {
      EXPECT_GT(p.bytes, f.points[k - 1].bytes);
      EXPECT_LT(p.error, f.points[k - 1].error);
    }
  }
}

TEST(AnalysisPareto, ExactFrontierEqualsBruteForce) {
  std::mt19937 rng(2024);
  size_t points = 0;
  for (int trial = 0; trial < 300; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const auto opts = random_options(rng);
    const Frontier f = compute_frontier(opts);  // sizes far below 2^16 steps: one byte per unit
    expect_consistent(f, opts);
    const auto expect = pareto_set(every_choice(opts));
    ASSERT_EQ(f.points.size(), expect.size());
    for (size_t k = 0; k < expect.size(); ++k) {
      EXPECT_EQ(f.points[k].bytes, expect[k].bytes);
      EXPECT_EQ(f.points[k].error, expect[k].error);
    }
    points += f.points.size();
  }
  EXPECT_GT(points, 1000u) << "the cases must not be trivial";
}

TEST(AnalysisPareto, CoarseSizesKeepTheHullAndABoundedGap) {
  std::mt19937 rng(77);
  for (int trial = 0; trial < 300; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const auto opts = random_options(rng);
    const uint64_t steps = 8;  // units of several bytes: the knapsack rounds every size up
    const Frontier f = compute_frontier(opts, steps);
    expect_consistent(f, opts);
    const auto all = every_choice(opts);
    const auto exact = pareto_set(all);
    // The hull's vertices are found exactly whatever the units.
    for (const auto& v : lower_hull(exact)) {
      const bool found = std::any_of(f.points.begin(), f.points.end(),
                                     [&](const auto& p) { return p.bytes == v.bytes && p.error == v.error; });
      EXPECT_TRUE(found) << "hull vertex (" << v.bytes << ", " << v.error << ") missing";
    }
    // Any choice is matched by a point at most one unit per tensor larger.
    uint64_t largest = 0;
    for (const auto& o : opts)
      largest += std::max_element(o.begin(), o.end(), [](auto& a, auto& b) { return a.bytes < b.bytes; })->bytes;
    const uint64_t unit = (largest + steps - 1) / steps;
    for (const auto& x : exact) {
      const auto k = f.at_most(x.bytes + opts.size() * unit);
      ASSERT_TRUE(k.has_value());
      EXPECT_LE(f.points[*k].error, x.error);
    }
    // The ends are exact too: the smallest size, and the least error.
    EXPECT_EQ(f.points.front().bytes, exact.front().bytes);
    EXPECT_EQ(f.points.back().error, exact.back().error);
  }
}

TEST(AnalysisPareto, AtMost) {
  const Frontier f = compute_frontier({{{10, 5.0}, {20, 1.0}}, {{5, 2.0}, {7, 1.0}}});
  ASSERT_EQ(f.points.size(), 4u);  // (15, 7) (17, 6) (25, 3) (27, 2)
  EXPECT_EQ(f.points[1].bytes, 17u);
  EXPECT_EQ(f.points[2].bytes, 25u);
  EXPECT_FALSE(f.at_most(14).has_value());
  EXPECT_EQ(*f.at_most(15), 0u);
  EXPECT_EQ(*f.at_most(26), 2u);
  EXPECT_EQ(*f.at_most(1000), 3u);
}

}  // namespace
}  // namespace qkv::analysis
