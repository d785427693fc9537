// The fast paths against their scalar references, the optimizer's pieces
// against their definitions, and the determinism that exact resume needs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "qkv/error.h"
#include "qkv/train.h"
#include "train/fixtures.h"
#include "train/gemm.h"
#include "train/ops.h"

namespace qkv::train {
namespace {

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// max |a - b| <= tol * max |b|
void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  double diff = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - b[i]));
    ref = std::max(ref, std::abs(double(b[i])));
  }
  EXPECT_LE(diff, tol * ref) << what << ": max |diff| " << diff << ", max |reference| " << ref;
}

TEST(TrainOps, BlasLinearEqualsScalarReference) {
  std::mt19937 rng(1);
  // Sizes that are no multiple of any SIMD width or BLAS block.
  // The last spans two of gemm.h's 256 x 256 output tiles each way.
  for (auto [N, I, O] : {std::tuple{1, 1, 1}, {7, 13, 5}, {37, 70, 101}, {130, 96, 33}, {300, 270, 260}}) {
    const auto x = random_floats(size_t(N) * I, rng), w = random_floats(size_t(O) * I, rng);
    const auto dy = random_floats(size_t(N) * O, rng), dx0 = random_floats(size_t(N) * I, rng);
    const auto dw0 = random_floats(size_t(O) * I, rng);
    std::vector<float> y(size_t(N) * O), y_ref(y.size());
    ops::linear_forward(x.data(), w.data(), N, I, O, y.data(), 2);
    ops::ref::linear_forward(x.data(), w.data(), N, I, O, y_ref.data());
    expect_close(y, y_ref, 1e-5, "y");
    for (bool accumulate : {false, true}) {
      auto dx = dx0, dx_ref = dx0, dw = dw0, dw_ref = dw0;
      ops::linear_backward(dy.data(), x.data(), w.data(), N, I, O, dx.data(), accumulate, dw.data(), 2);
      ops::ref::linear_backward(dy.data(), x.data(), w.data(), N, I, O, dx_ref.data(), accumulate, dw_ref.data());
      expect_close(dx, dx_ref, 1e-5, accumulate ? "dx (accumulated)" : "dx");
      expect_close(dw, dw_ref, 1e-5, "dw (always accumulated)");
    }
  }
}

TEST(TrainOps, TiledGemmEqualsScalarProductAndIgnoresTheThreadCount) {
  // Every transposition, with strides wider than the matrices, beta 0 and 1,
  // over shapes of one tile and of several; the bits must not move with the
  // thread count, whatever OpenBLAS's core type and its own thread setting.
  std::mt19937 rng(2);
  for (const auto& shape : {std::tuple{5, 3, 7}, {129, 257, 40}, {300, 130, 65}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        // Plain variables, not structured bindings: clang 14's lambdas cannot capture those.
        const int64_t M = std::get<0>(shape), N = std::get<1>(shape), K = std::get<2>(shape);
        const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
        const auto A = random_floats(size_t(ta ? K : M) * lda, rng), B = random_floats(size_t(tb ? N : K) * ldb, rng);
        const auto C0 = random_floats(size_t(M) * ldc, rng);
        for (float beta : {0.0f, 1.0f}) {
          auto want = C0;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double sum = 0;
              for (int64_t k = 0; k < K; ++k)
                sum += double(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
              want[i * ldc + j] = float(0.5 * sum + beta * C0[i * ldc + j]);
            }
          auto with = [&](int threads) {
            auto C = C0;
            ops::gemm(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc, threads);
            return C;
          };
          const auto one = with(1);
          expect_close(one, want, 1e-5, "gemm");
          EXPECT_EQ(one, with(2)) << M << "x" << N << "x" << K << " ta " << ta << " tb " << tb;
          EXPECT_EQ(one, with(3)) << M << "x" << N << "x" << K << " ta " << ta << " tb " << tb;
        }
      }
}

TEST(TrainOps, BlasAttentionEqualsScalarReference) {
  std::mt19937 rng(6);
  for (const ops::AttentionDims d : {ops::AttentionDims{1, 1, 1, 1, 2}, {2, 7, 6, 2, 4}, {3, 33, 4, 1, 16},
                                     {2, 40, 4, 4, 8}}) {
    const int64_t N = d.B * d.T;
    const auto q = random_floats(size_t(N * d.H * d.D), rng), k = random_floats(size_t(N * d.K * d.D), rng);
    const auto v = random_floats(k.size(), rng), dout = random_floats(q.size(), rng);
    std::vector<float> probs(size_t(d.B * d.H * d.T * d.T)), out(q.size()), probs_ref(probs.size()), out_ref(q.size());
    ops::attention_forward(q.data(), k.data(), v.data(), d, probs.data(), out.data(), 2);
    ops::ref::attention_forward(q.data(), k.data(), v.data(), d, probs_ref.data(), out_ref.data(), 2);
    expect_close(probs, probs_ref, 1e-5, "probs");
    expect_close(out, out_ref, 1e-5, "out");
    std::vector<float> dq(q.size()), dk(k.size(), 9.0f), dv(k.size(), 9.0f), scratch(probs.size());
    std::vector<float> dq_ref(q.size()), dk_ref(k.size()), dv_ref(k.size());
    ops::attention_backward(dout.data(), q.data(), k.data(), v.data(), probs.data(), d, dq.data(), dk.data(),
                            dv.data(), scratch.data(), 2);
    ops::ref::attention_backward(dout.data(), q.data(), k.data(), v.data(), probs_ref.data(), d, dq_ref.data(),
                                 dk_ref.data(), dv_ref.data(), 2);
    expect_close(dq, dq_ref, 1e-5, "dq");
    expect_close(dk, dk_ref, 1e-5, "dk (overwritten, summed over the group)");
    expect_close(dv, dv_ref, 1e-5, "dv (overwritten, summed over the group)");
  }
}

TEST(TrainOps, RopeBackwardUndoesForward) {
  // A rotation's inverse is its transpose: backward(forward(x)) = x.
  std::mt19937 rng(2);
  const int64_t B = 2, T = 5, H = 3, D = 8;
  const auto x = random_floats(size_t(B * T * H * D), rng);
  const auto table = ops::rope_table(T, D, 10000.0f);
  auto y = x;
  ops::rope_forward(y.data(), B, T, H, D, table, 2);
  double moved = 0;
  for (size_t i = 0; i < x.size(); ++i) moved = std::max(moved, std::abs(double(y[i]) - x[i]));
  EXPECT_GT(moved, 0.1) << "positions after 0 must turn";
  ops::rope_backward(y.data(), B, T, H, D, table, 2);
  expect_close(y, x, 1e-6, "rope round trip");
}

TEST(TrainOps, CrossEntropyOfUniformLogitsIsLogV) {
  const int64_t N = 3, V = 50;
  std::vector<float> logits(N * V, 0.25f);
  const std::vector<int32_t> targets = {0, 7, 49};
  EXPECT_NEAR(ops::cross_entropy(logits.data(), targets.data(), N, V, 1.0f, 1), N * std::log(double(V)), 1e-9);
  for (int64_t n = 0; n < N; ++n) {  // the gradient: softmax - onehot
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += logits[n * V + v];
    EXPECT_NEAR(sum, 0.0, 1e-6);
    EXPECT_NEAR(logits[n * V + targets[n]], 1.0 / V - 1.0, 1e-7);
  }
}

TEST(TrainSchedule, WarmupThenCosineToMinimum) {
  const Schedule s{1e-3f, 1e-4f, 10, 110};
  EXPECT_FLOAT_EQ(lr_at(s, 0), 1e-4f);  // lr / warmup
  for (int64_t i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(lr_at(s, i), 1e-3f * float(i + 1) / 10);
  EXPECT_FLOAT_EQ(lr_at(s, 10), 1e-3f);
  EXPECT_NEAR(lr_at(s, 10 + 99 / 2.0), 0.5 * (1e-3 + 1e-4), 1e-5);  // half way down the cosine
  EXPECT_FLOAT_EQ(lr_at(s, 109), 1e-4f);                               // the last step
  EXPECT_FLOAT_EQ(lr_at(s, 500), 1e-4f);
  for (int64_t i = 11; i < 110; ++i) EXPECT_LE(lr_at(s, i), lr_at(s, i - 1));
}

TEST(TrainClip, ScalesToTheLimitOnlyAboveIt) {
  std::vector<float> g = {3, 4};  // norm 5
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 10.0f, 1), 5.0);
  EXPECT_EQ(g, (std::vector<float>{3, 4}));
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 1.0f, 1), 5.0);
  EXPECT_NEAR(std::hypot(g[0], g[1]), 1.0, 1e-6);
  EXPECT_NEAR(g[0] / g[1], 0.75, 1e-7);
}

TEST(TrainClip, NormDoesNotDependOnThreads) {
  std::mt19937 rng(3);
  const auto g = random_floats(1'000'003, rng);
  EXPECT_EQ(global_norm(g, 1), global_norm(g, 2));
  EXPECT_EQ(global_norm(g, 1), global_norm(g, 7));
}

TEST(TrainAdamW, FirstUpdateMovesEveryWeightByLrAgainstItsGradientSign) {
  // With bias correction the first step is lr * g / (|g| + eps'): the sign of
  // the gradient times lr, whatever its size; decay scales first.
  Shape s = test::tiny_shape(11, 4);
  Transformer m(s, 1);
  test::randomize(m, 1);
  std::mt19937 rng(4);
  std::vector<float> g = random_floats(m.params().size(), rng);
  const std::vector<float> before(m.params().begin(), m.params().end());
  AdamW opt({0.9f, 0.95f, 1e-12f, 0.5f}, g.size());
  const float lr = 0.01f;
  opt.update(m.params(), g, m.tensors(), lr, 2);
  EXPECT_EQ(opt.updates(), 1);
  for (const auto& t : m.tensors())
    for (int64_t i = t.offset; i < t.offset + t.size(); ++i) {
      const float decayed = before[i] * (t.decay ? 1.0f - lr * 0.5f : 1.0f);
      ASSERT_NEAR(m.params()[i], decayed - lr * (g[i] > 0 ? 1.0f : -1.0f), 1e-6) << t.name << "[" << i - t.offset << "]";
    }
}

TEST(TrainModel, GradientsAreReproducibleAndIndependentOfTheThreadCount) {
  // Exact resume needs the same bits from the same inputs. Our kernels give
  // each output element to one thread, and the matrix products run as fixed
  // tiles over single-threaded OpenBLAS (gemm.h; the vocabulary here spans
  // two tiles).
  Shape s = test::tiny_shape(300, 32);
  s.dim = 96, s.heads = 6, s.kv_heads = 3, s.ffn = 256;
  std::mt19937 rng(5);
  const Batch b = test::random_batch(s, 4, 32, rng);
  auto grads_with = [&](int threads) {
    Transformer m(s, threads);
    test::randomize(m, 9);
    m.zero_grads();
    m.forward_backward(b.tokens, b.targets, b.B, b.T);
    return std::vector<float>(m.grads().begin(), m.grads().end());
  };
  const auto a = grads_with(2);
  EXPECT_EQ(a, grads_with(2));
  EXPECT_EQ(a, grads_with(1));
  EXPECT_EQ(a, grads_with(3));
}

TEST(TrainModel, ParameterCountMatchesLayout) {
  for (bool tied : {true, false}) {
    Shape s = test::tiny_shape(100, 8);
    s.tied = tied;
    Transformer m(s, 1);
    EXPECT_EQ(int64_t(m.params().size()), s.n_params());
    EXPECT_EQ(m.tensors().back().offset + m.tensors().back().size(), s.n_params());
  }
}

TEST(TrainModel, RejectsBadShapesAndTokens) {
  Shape s = test::tiny_shape(10, 8);
  s.heads = 3;  // 32 is not a multiple of 3
  EXPECT_THROW(Transformer(s, 1), qkv::Error);
  s = test::tiny_shape(10, 8);
  s.kv_heads = 3;  // 4 heads are not a multiple of 3
  EXPECT_THROW(Transformer(s, 1), qkv::Error);
  Transformer m(test::tiny_shape(10, 8), 1);
  const std::vector<int32_t> ok(8, 1), bad = {1, 2, 3, 10, 1, 1, 1, 1};
  EXPECT_THROW(m.forward_backward(bad, ok, 1, 8), Error);
  EXPECT_THROW(m.forward_backward(ok, bad, 1, 8), Error);
  const std::vector<int32_t> long_ids(9, 1);
  EXPECT_THROW(m.loss(long_ids, long_ids, 1, 9), Error);  // T > ctx
}

}  // namespace
}  // namespace qkv::train
