// The trainer's forward and backward passes, and whole optimizer steps,
// against the same model in PyTorch (float64, autograd, torch.optim.AdamW).
// Tolerance per tensor: max |ours - torch| <= tol * max |torch|.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "qkv/train.h"
#include "test_support.h"
#include "train/fixtures.h"
#include "train/torch_oracle.h"

namespace qkv::train {
namespace {

// Writes what torch_llama.py check reads.
void write_case(const std::filesystem::path& dir, const Transformer& m, const std::vector<Batch>& batches,
                nlohmann::json extra) {
  nlohmann::json cfg = std::move(extra);
  const Shape& s = m.shape();
  cfg["shape"] = {{"vocab", s.vocab}, {"dim", s.dim}, {"layers", s.layers}, {"heads", s.heads},
                  {"kv_heads", s.kv_heads}, {"ffn", s.ffn}, {"norm_eps", s.norm_eps}, {"rope_base", s.rope_base}};
  cfg["B"] = batches[0].B;
  cfg["T"] = batches[0].T;
  for (const auto& t : m.tensors())
    cfg["tensors"].push_back(
        {{"name", t.name}, {"offset", t.offset}, {"rows", t.rows}, {"cols", t.cols}, {"decay", t.decay}});
  std::ofstream(dir / "config.json") << cfg.dump();
  std::ofstream p(dir / "params.bin", std::ios::binary);
  p.write(reinterpret_cast<const char*>(m.params().data()), std::streamsize(m.params().size_bytes()));
  std::ofstream ids(dir / "batches.bin", std::ios::binary);
  for (const auto& b : batches)
    for (const auto* v : {&b.tokens, &b.targets})
      ids.write(reinterpret_cast<const char*>(v->data()), std::streamsize(v->size() * sizeof(int32_t)));
}

void run_oracle(const std::filesystem::path& dir) {
  std::string out;
  ASSERT_EQ(test::run_torch_llama("check '" + dir.string() + "'", &out), 0) << out;
}

struct Case {
  const char* name;
  Shape shape;
  int B, T;
};

class GradCheck : public ::testing::TestWithParam<Case> {};

TEST_P(GradCheck, LossAndEveryGradientMatchPyTorch) {
  QKV_REQUIRE_TORCH();
  const Case& c = GetParam();
  Transformer m(c.shape, 2);
  test::randomize(m, 7);
  std::mt19937 rng(11);
  const Batch b = test::random_batch(c.shape, c.B, c.T, rng);
  m.zero_grads();
  const float loss = m.forward_backward(b.tokens, b.targets, c.B, c.T);

  test::TempDir dir;
  write_case(dir.path(), m, {b}, {{"steps", 0}});
  run_oracle(dir.path());
  const double torch_loss = test::read_doubles(dir / "loss.bin").at(0);
  EXPECT_NEAR(loss, torch_loss, 1e-5 * std::abs(torch_loss));
  const auto grads = test::read_doubles(dir / "grads.bin");
  ASSERT_EQ(grads.size(), m.params().size());
  double worst = 0;
  for (const auto& d : test::compare_tensors(m.tensors(), m.grads(), grads)) {
    EXPECT_GT(d.max_ref, 0) << d.name << ": torch's gradient is zero, the check would be empty";
    EXPECT_LE(d.max_diff, 1e-4 * d.max_ref) << d.name << ": max |ours - torch| " << d.max_diff << ", max |torch| "
                                            << d.max_ref;
    worst = std::max(worst, d.relative());
  }
  std::printf("[ %s ] loss %.9f (torch %.9f), worst gradient max|diff|/max|torch| over %zu tensors: %.2e\n", c.name,
              loss, torch_loss, m.tensors().size(), worst);
}

Shape tiny(bool tied, int heads, int kv_heads) {
  Shape s;
  s.vocab = 37, s.dim = 24, s.layers = 2, s.heads = heads, s.kv_heads = kv_heads, s.ffn = 40, s.ctx = 9;
  s.tied = tied, s.rope_base = 100.0f;  // a small base turns even the last pairs noticeably in 9 positions
  return s;
}

INSTANTIATE_TEST_SUITE_P(Train, GradCheck,
                         ::testing::Values(Case{"grouped-query, untied", tiny(false, 6, 2), 3, 9},
                                           Case{"multi-head, tied", tiny(true, 4, 4), 2, 7},
                                           Case{"multi-query, tied", tiny(true, 4, 1), 2, 9}),
                         [](const auto& info) { return std::to_string(info.index); });

// Three optimizer steps of two accumulated micro-batches each, with clipping
// active and a warmup-then-cosine learning rate: the weights after them and
// every step's loss against torch.optim.AdamW + clip_grad_norm_.
TEST(GradCheck, OptimizerStepsMatchPyTorchAdamW) {
  QKV_REQUIRE_TORCH();
  const Shape shape = tiny(false, 6, 2);
  const int steps = 3, accum = 2, B = 2, T = 9;
  Transformer m(shape, 2);
  test::randomize(m, 3);
  std::mt19937 rng(5);
  std::vector<Batch> batches;
  for (int i = 0; i < steps * accum; ++i) batches.push_back(test::random_batch(shape, B, T, rng));
  const Schedule sched{1e-2f, 1e-3f, 2, steps};
  const AdamWConfig ac{0.9f, 0.95f, 1e-8f, 0.1f};
  const float clip = 0.5f;

  nlohmann::json extra = {{"steps", steps}, {"grad_accum", accum}, {"clip", clip},
                          {"adamw", {{"beta1", ac.beta1}, {"beta2", ac.beta2}, {"eps", ac.eps},
                                     {"weight_decay", ac.weight_decay}}}};
  for (int i = 0; i < steps; ++i) extra["lrs"].push_back(lr_at(sched, i));
  test::TempDir dir;
  write_case(dir.path(), m, batches, extra);  // the weights before any step
  run_oracle(dir.path());

  AdamW opt(ac, m.params().size());
  const auto torch_losses = test::read_doubles(dir / "losses.bin");
  ASSERT_EQ(torch_losses.size(), size_t(steps));
  for (int i = 0; i < steps; ++i) {
    const auto s = train_step(m, opt, std::span(batches).subspan(size_t(i) * accum, accum), lr_at(sched, i), clip);
    EXPECT_GT(s.grad_norm, clip) << "clipping should be active in step " << i;
    EXPECT_NEAR(s.loss, torch_losses[i], 1e-5 * std::abs(torch_losses[i])) << "step " << i;
  }
  double worst = 0;
  for (const auto& d : test::compare_tensors(m.tensors(), m.params(), test::read_doubles(dir / "after.bin"))) {
    EXPECT_LE(d.max_diff, 1e-4 * d.max_ref) << d.name << " after " << steps << " steps: max |ours - torch| "
                                            << d.max_diff << ", max |torch| " << d.max_ref;
    worst = std::max(worst, d.relative());
  }
  std::printf("[ AdamW ] %d steps: worst weight max|diff|/max|torch| %.2e\n", steps, worst);
}

}  // namespace
}  // namespace qkv::train
