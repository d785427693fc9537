// The adaptive planner behind qkv quantize --target-*: its error measure
// against an independent computation, its allocation against brute force,
// and whole-model plans against their budgets.
#include <gtest/gtest.h>

#include <random>

#include "qkv/budget_plan.h"
#include "qkv/error.h"
#include "qkv/quant.h"
#include "qkv/quantize_model.h"
#include "test_support.h"

namespace qkv::quant {
namespace {

// With every row sampled, the predicted error is the imatrix-weighted squared
// error of the scalar reference's round trip.
TEST(BudgetPlan, PredictedErrorIsTheWeightedRoundTripError) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 0.02f);
  const int64_t rows = 12, cols = 512;
  std::vector<float> w(rows * cols), h(cols);
  for (auto& x : w) x = nd(rng);
  for (auto& x : h) x = 0.5f + std::abs(nd(rng)) * 50;
  for (TensorType t : {TensorType::Q4_K, TensorType::Q2_K, TensorType::Q8_0, TensorType::IQ4_XS}) {
    std::vector<uint8_t> q(row_bytes(t, cols) * rows);
    std::vector<float> back(w.size());
    quantize_reference(t, w.data(), q.data(), rows, cols, uses_imatrix(t) ? h.data() : nullptr);
    dequantize_reference(t, q.data(), back.data(), rows, cols);
    double want = 0;
    for (int64_t i = 0; i < rows * cols; ++i) want += double(h[i % cols]) * (double(w[i]) - back[i]) * (double(w[i]) - back[i]);
    EXPECT_NEAR(predicted_error(t, w.data(), rows, cols, h.data(), rows, 2), want, want * 1e-9) << type_name(t);
  }
}

// Random frontiers: the allocation fits, leaves no affordable one-step
// upgrade, and is at least as good as the best plan a brute force finds
// under the budget less the largest step (the Lagrangian's guarantee).
TEST(BudgetPlan, AllocationAgainstBruteForce) {
  std::mt19937 rng(11);
  for (int instance = 0; instance < 50; ++instance) {
    std::vector<TensorOptions> tensors(5);
    uint64_t max_step = 0, smallest = 0, largest = 0;
    for (auto& t : tensors) {
      uint64_t bytes = 1000 + rng() % 1000;
      double err = 0.001 * (1 + rng() % 100);
      for (int k = 0; k < 4; ++k) {
        t.frontier.push_back({TensorType::Q8_0, bytes, err});
        const uint64_t step = 50 + rng() % 400;
        bytes -= step, err *= 1.5 + (rng() % 1000) / 500.0;
        if (k < 3) max_step = std::max(max_step, step);
      }
      smallest += t.frontier.back().bytes, largest += t.frontier.front().bytes;
    }
    const uint64_t budget = smallest + rng() % (largest - smallest);
    const auto pick = allocate(tensors, budget);
    uint64_t used = 0;
    double err = 0;
    for (size_t i = 0; i < tensors.size(); ++i) used += tensors[i].frontier[pick[i]].bytes, err += tensors[i].frontier[pick[i]].error;
    ASSERT_LE(used, budget);
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (pick[i] > 0) {
        EXPECT_GT(used - tensors[i].frontier[pick[i]].bytes + tensors[i].frontier[pick[i] - 1].bytes, budget);
      }
    }
    double best = INFINITY;  // brute force over 4^5 plans within budget - max_step
    for (int code = 0; code < 1024; ++code) {
      uint64_t b = 0;
      double e = 0;
      for (int i = 0, c = code; i < 5; ++i, c /= 4) b += tensors[i].frontier[c % 4].bytes, e += tensors[i].frontier[c % 4].error;
      if (b + max_step <= budget) best = std::min(best, e);
    }
    EXPECT_LE(err, best * (1 + 1e-12)) << "instance " << instance;
  }
}

TEST(BudgetPlan, BudgetBelowTheSmallestPlanNamesTheRange) {
  std::vector<TensorOptions> t(1);
  t[0].frontier = {{TensorType::Q8_0, 300, 0.1}, {TensorType::Q4_K, 200, 0.2}};
  try {
    allocate(t, 199);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("needs 200 and the largest 300"), std::string::npos) << e.what();
  }
}

// A whole model at the size of llama.cpp's Q4_K_M recipe: the file fits, is
// deterministic, every planned tensor has a frontier type, and the measured
// error of the plan is no worse than the recipe's by the same measure.
TEST(BudgetPlan, ModelPlanFitsAndBeatsTheRecipeOnItsOwnMeasure) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  const auto dir = test::shared_dir() / "models/gguf-llamacpp-quantized";
  const auto in = (dir / "tiny-llama-F32.gguf").string();
  const uint64_t recipe_bytes = std::filesystem::file_size(dir / "tiny-llama-Q4_K_M.gguf");
  test::TempDir tmp;
  QuantizeOptions o;
  o.progress = false;
  o.budget.file_bytes = recipe_bytes;
  const auto a = quantize_model(in, (tmp.path() / "a.gguf").string(), o);
  const auto b = quantize_model(in, (tmp.path() / "b.gguf").string(), o);
  EXPECT_LE(std::filesystem::file_size(tmp.path() / "a.gguf"), recipe_bytes);
  EXPECT_EQ(test::read_bytes(tmp.path() / "a.gguf"), test::read_bytes(tmp.path() / "b.gguf"));
  EXPECT_TRUE(a.budgeted);
  EXPECT_FALSE(a.budget_capped);

  // The recipe's plan measured the same way (all rows of this small model).
  const auto src = gguf::File::open(in);
  const auto recipe = gguf::File::open((dir / "tiny-llama-Q4_K_M.gguf").string());
  double recipe_error = 0, ours = 0;
  for (const auto& t : a.tensors) {
    if (t.from == t.to) continue;
    const auto* info = src.find_tensor(t.name);
    const auto* r = recipe.find_tensor(t.name);
    ASSERT_TRUE(info && r) << t.name;
    const auto data = src.tensor_data(size_t(info - src.tensors().data()));
    const auto* f = reinterpret_cast<const float*>(data.data());
    const int64_t cols = int64_t(info->shape[0]), rows = int64_t(info->n_elements()) / cols;
    recipe_error += r->type == TensorType::F32 ? 0 : predicted_error(r->type, f, rows, cols, nullptr, rows, 2);
    ours += predicted_error(t.to, f, rows, cols, nullptr, rows, 2);
  }
  EXPECT_LT(ours, recipe_error);
  std::printf("predicted error at Q4_K_M's size: recipe %.4g, plan %.4g (%.2fx)\n", recipe_error, ours, ours / recipe_error);

  QuantizeOptions big = o;
  big.budget.file_bytes = 1ull << 40;  // above the largest plan: the largest, with a note
  big.dry_run = true;
  EXPECT_TRUE(quantize_model(in, "", big).budget_capped);
}

}  // namespace
}  // namespace qkv::quant
