// The forward pass against llama.cpp's own outputs for real models.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "qkv/session.h"
#include "test_support.h"

namespace qkv {
namespace {

std::vector<float> read_logits(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::vector<float> v;
  for (float x; f >> x;) v.push_back(x);
  return v;
}

std::vector<int32_t> read_ids(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::vector<int32_t> v;
  for (int32_t x; f >> x;) v.push_back(x);
  return v;
}

// max |ours - theirs| must be within tol * max |theirs|.
void expect_logits_close(const std::vector<float>& ours, const std::vector<float>& theirs, double tol,
                         const std::string& what) {
  ASSERT_EQ(ours.size(), theirs.size()) << what;
  double max_ref = 0, max_diff = 0;
  size_t worst = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(double(theirs[i])));
    const double diff = std::abs(double(ours[i]) - theirs[i]);
    if (diff > max_diff) max_diff = diff, worst = i;
  }
  EXPECT_LE(max_diff, tol * max_ref) << what << ": worst token " << worst << " ours " << ours[worst] << " llama.cpp "
                                     << theirs[worst] << " (max |logit| " << max_ref << ")";
}

int argmax(const std::vector<float>& v) {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

TEST(Session, Stories260KLogitsMatchLlamaCpp) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  const auto dir = test::shared_dir() / "models/gguf-stories260K";
  auto model = Model::load((dir / "stories260K.gguf").string());
  Session s(model, 256, 2);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  const auto logits = s.decode(prompt);
  expect_logits_close(logits, read_logits(dir / "logits.tokens-1,403,407,261,378.txt"), 2e-3, "stories260K");
}

TEST(Session, Stories260KGreedyContinuationMatchesLlamaCpp) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  const auto dir = test::shared_dir() / "models/gguf-stories260K";
  const auto want = read_ids(dir / "greedy-once-upon-a-time.ids.txt");
  auto model = Model::load((dir / "stories260K.gguf").string());
  Session s(model, 256, 2);
  std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  auto logits = s.decode(prompt);
  std::vector<int32_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    const int32_t next = argmax(logits);
    got.push_back(next);
    logits = s.decode(std::span<const int32_t>(&next, 1));
  }
  EXPECT_EQ(got, want);
}

TEST(Session, TinyLlamaLogitsMatchLlamaCppForEveryType) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  const auto dir = test::shared_dir() / "models/gguf-llamacpp-quantized";
  for (const char* type : {"F32", "F16", "Q8_0", "Q4_0", "Q4_K_M", "Q6_K", "IQ4_XS"}) {
    auto model = Model::load((dir / ("tiny-llama-" + std::string(type) + ".gguf")).string());
    Session s(model, 64, 2);
    const std::vector<int32_t> prompt = {1, 5, 100, 200, 300, 400};
    const auto logits = s.decode(prompt);
    expect_logits_close(logits, read_logits(dir / "logits" / ("tiny-llama-" + std::string(type) + ".tokens-1,5,100,200,300,400.txt")),
                        2e-3, type);
  }
}

TEST(Session, BatchedPromptEqualsTokenByToken) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  auto model = Model::load((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string());
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 300, 301};
  Session a(model, 64, 1), b(model, 64, 2);
  const auto all = a.decode(prompt, true);
  for (size_t i = 0; i < prompt.size(); ++i) {
    const auto one = b.decode(std::span<const int32_t>(&prompt[i], 1));
    for (size_t j = 0; j < one.size(); ++j) ASSERT_NEAR(one[j], all[i * one.size() + j], 1e-4) << i << " " << j;
  }
}

}  // namespace
}  // namespace qkv

#include "runtime/reference_forward.h"

namespace qkv {
namespace {

// Our float32 engine against the float64 reference, on F32 weights.
TEST(Session, EqualsFloat64ReferenceForward) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  for (const char* rel : {"models/gguf-stories260K/stories260K.gguf", "models/gguf-llamacpp-quantized/tiny-llama-F32.gguf"}) {
    const auto path = (test::shared_dir() / rel).string();
    const std::vector<int32_t> prompt = {1, 5, 100, 200, 300, 400, 7, 8};
    const auto want = test::reference_logits(path, prompt);
    Session s(Model::load(path), 64, 2, AttentionPrecision::Exact);
    const auto got = s.decode(prompt);
    double max_ref = 0, max_diff = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      max_ref = std::max(max_ref, std::abs(want[i]));
      max_diff = std::max(max_diff, std::abs(got[i] - want[i]));
    }
    EXPECT_LE(max_diff, 1e-4 * max_ref) << rel << ": max |diff| " << max_diff << ", max |logit| " << max_ref;
  }
}

}  // namespace
}  // namespace qkv

namespace qkv {
namespace {

// Greedy generation is identical whether a prompt runs alone or in a batch.
TEST(Session, BatchOfSequencesEqualsEachAlone) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  auto model = Model::load((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string());
  const std::vector<std::vector<int32_t>> prompts = {{1, 403, 407, 261, 378}, {1, 300}, {1, 20, 30, 40, 50, 60, 70}};
  const int steps = 12;
  auto greedy_alone = [&](const std::vector<int32_t>& p) {
    Session s(model, 64, 1);
    auto logits = s.decode(p);
    std::vector<int32_t> out;
    for (int i = 0; i < steps; ++i) {
      const int32_t next = argmax(logits);
      out.push_back(next);
      logits = s.decode(std::span<const int32_t>(&next, 1));
    }
    return out;
  };
  std::vector<Session> sessions;
  for (size_t i = 0; i < prompts.size(); ++i) sessions.emplace_back(model, 64, 2);
  std::vector<Session*> ptrs;
  for (auto& s : sessions) ptrs.push_back(&s);
  auto logits = decode_batch(ptrs, prompts);
  std::vector<std::vector<int32_t>> got(prompts.size());
  for (int i = 0; i < steps; ++i) {
    std::vector<std::vector<int32_t>> next(prompts.size());
    for (size_t k = 0; k < prompts.size(); ++k) {
      next[k] = {argmax(logits[k])};
      got[k].push_back(next[k][0]);
    }
    logits = decode_batch(ptrs, next);
  }
  for (size_t k = 0; k < prompts.size(); ++k) EXPECT_EQ(got[k], greedy_alone(prompts[k])) << "prompt " << k;
}

}  // namespace
}  // namespace qkv
