// The pruning methods against a sort-based reference (prune_reference.h) and
// the invariants each promises.
#include "qkv/prune.h"

#include <gtest/gtest.h>

#include <random>

#include "pipeline/prune_reference.h"
#include "qkv/error.h"

namespace qkv {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float zero_fraction = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng) < zero_fraction ? 0.0f : g(rng);
  return v;
}

uint64_t zeros(const std::vector<float>& v) { return uint64_t(std::count(v.begin(), v.end(), 0.0f)); }

TEST(PruneRows, MagnitudeZeroesTheSmallestFractionOfEachRow) {
  const int64_t rows = 7, cols = 96;
  for (double s : {0.1, 0.3, 0.5, 0.6}) {
    auto w = random_floats(size_t(rows * cols), 1);
    auto want = w;
    test::prune_reference(want.data(), rows, cols, s, nullptr);
    PruneOptions o;
    o.sparsity = s;
    const uint64_t zeroed = prune_rows(o, w.data(), rows, cols, nullptr);
    EXPECT_EQ(w, want) << "sparsity " << s;
    EXPECT_EQ(zeroed, uint64_t(rows) * uint64_t(s * cols + 1e-9)) << s;
  }
}

TEST(PruneRows, WandaWeighsEachColumnByItsActivationNorm) {
  const int64_t rows = 5, cols = 64;
  auto w = random_floats(size_t(rows * cols), 2);
  std::vector<float> act(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) act[size_t(j)] = j % 3 == 0 ? 100.0f : 0.01f * float(j + 1);
  auto want = w;
  test::prune_reference(want.data(), rows, cols, 0.5, act.data());
  PruneOptions o;
  o.method = PruneMethod::Wanda;
  o.sparsity = 0.5;
  prune_rows(o, w.data(), rows, cols, act.data());
  EXPECT_EQ(w, want);
  // The heavily used columns survive where magnitude alone would cut them.
  auto mag = random_floats(size_t(rows * cols), 2);
  PruneOptions m;
  prune_rows(m, mag.data(), rows, cols, nullptr);
  EXPECT_NE(w, mag);
  uint64_t kept_hot = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; j += 3) kept_hot += w[size_t(r * cols + j)] != 0.0f;
  EXPECT_GT(kept_hot, uint64_t(rows * 20));
  EXPECT_THROW(prune_rows(o, w.data(), rows, cols, nullptr), Error);
}

TEST(PruneRows, TwoOfFourLeavesExactlyTwoInEveryGroup) {
  const int64_t rows = 4, cols = 70;  // a last group of two
  auto w = random_floats(size_t(rows * cols), 3);
  auto want = w;
  test::prune_reference_nm(want.data(), rows, cols, 2, 4, nullptr);
  PruneOptions o;
  parse_prune_method("2:4", o);
  prune_rows(o, w.data(), rows, cols, nullptr);
  EXPECT_EQ(w, want);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g + 4 <= cols; g += 4) {
      int nz = 0;
      for (int64_t j = g; j < g + 4; ++j) nz += w[size_t(r * cols + j)] != 0.0f;
      EXPECT_EQ(nz, 2) << "row " << r << " group " << g;
    }
  EXPECT_DOUBLE_EQ(prune_fraction(o), 0.5);
}

TEST(PruneRows, TiesGoToTheLowerIndexAndZerosAreNotCountedTwice) {
  std::vector<float> w(8, 1.0f);
  PruneOptions o;
  o.sparsity = 0.5;
  EXPECT_EQ(prune_rows(o, w.data(), 1, 8, nullptr), 4u);
  EXPECT_EQ(w, (std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1}));
  auto v = random_floats(256, 4, 0.25f);
  const uint64_t before = zeros(v);
  const uint64_t zeroed = prune_rows(o, v.data(), 1, 256, nullptr);
  EXPECT_EQ(zeros(v), 128u);
  EXPECT_EQ(zeroed, 128u - before);
}

TEST(PruneOptions, MethodNamesAndWhatIsPruned) {
  PruneOptions o;
  parse_prune_method("4:8", o);
  EXPECT_EQ(o.method, PruneMethod::NofM);
  EXPECT_EQ(o.keep_n, 4);
  EXPECT_EQ(o.group_m, 8);
  parse_prune_method("wanda", o);
  EXPECT_EQ(o.method, PruneMethod::Wanda);
  for (const char* bad : {"4:2", "0:4", "2:", ":4", "2:4x", "lottery", "2:100"}) EXPECT_THROW(parse_prune_method(bad, o), Error) << bad;

  const std::vector<uint64_t> mat{64, 32}, vec{64};
  EXPECT_TRUE(is_prunable("blk.0.attn_q.weight", mat, o));
  EXPECT_TRUE(is_prunable("blk.3.ffn_down.weight", mat, o));
  EXPECT_FALSE(is_prunable("blk.0.attn_norm.weight", vec, o));
  EXPECT_FALSE(is_prunable("blk.0.attn_q_norm.weight", mat, o));
  EXPECT_FALSE(is_prunable("blk.0.attn_q.bias", mat, o));
  EXPECT_FALSE(is_prunable("token_embd.weight", mat, o));
  EXPECT_FALSE(is_prunable("output.weight", mat, o));
  o.embeddings = o.output = true;
  EXPECT_TRUE(is_prunable("token_embd.weight", mat, o));
  EXPECT_TRUE(is_prunable("output.weight", mat, o));
}

}  // namespace
}  // namespace qkv
