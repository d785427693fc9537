// SensitivityProbe against the same measurement made the long way: a GGUF
// written with the one tensor replaced, both models run, KLD summed here.
#include <gtest/gtest.h>

#include <cmath>

#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv/quant.h"
#include "qkv/sensitivity.h"
#include "qkv/session.h"
#include "test_support.h"

namespace qkv {
namespace {

std::vector<double> log_probs(const float* x, size_t n) {
  double mx = x[0], sum = 0;
  for (size_t i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  for (size_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] - mx - std::log(sum);
  return out;
}

TEST(Sensitivity, EqualsTheKldOfAModelFileWithTheTensorReplaced) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  const auto in = (test::shared_dir() / "models/gguf-llamacpp-quantized/tiny-llama-F32.gguf").string();
  auto base = Model::load(in, {.repack = false});
  std::vector<int32_t> tokens(40);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t((i * 37 + 5) % 512);
  const int n_ctx = 16;  // two windows; the last 8 tokens are left out
  SensitivityProbe probe(base, tokens, n_ctx, 8, 2, 1);

  const std::string name = "blk.1.ffn_down.weight";
  const auto src = gguf::File::open(in);
  const auto* info = src.find_tensor(name);
  ASSERT_TRUE(info);
  const size_t index = size_t(info - src.tensors().data());
  const int64_t cols = int64_t(info->shape[0]), rows = int64_t(info->n_elements()) / cols;
  std::vector<uint8_t> q2(tensor_bytes(TensorType::Q2_K, info->shape));
  quant::quantize(TensorType::Q2_K, reinterpret_cast<const float*>(src.tensor_data(index).data()), q2.data(), rows, cols);

  // Its own bytes change nothing.
  const auto same = src.tensor_data(index);
  EXPECT_EQ(probe.kld(name, TensorType::F32, same), 0.0);

  test::TempDir tmp;
  const auto path = (tmp.path() / "one-q2k.gguf").string();
  {
    auto infos = src.tensors();
    infos[index].type = TensorType::Q2_K;
    gguf::Writer w(path, src.metadata(), infos);
    for (size_t i = 0; i < infos.size(); ++i) w.write_tensor(i == index ? std::span<const uint8_t>(q2) : src.tensor_data(i));
    w.finish();
  }
  auto changed = Model::load(path, {.repack = false});
  const size_t V = base->config().n_vocab;
  double sum = 0;
  int n = 0;
  for (int w = 0; w < 2; ++w) {
    std::vector<int32_t> window(tokens.begin() + w * n_ctx, tokens.begin() + (w + 1) * n_ctx);
    window[0] = 1;
    Session a(base, n_ctx, 1), b(changed, n_ctx, 1);
    const auto la = a.decode(window, true), lb = b.decode(window, true);
    for (int t = 0; t < n_ctx; ++t, ++n) {
      const auto p = log_probs(&la[size_t(t) * V], V), q = log_probs(&lb[size_t(t) * V], V);
      for (size_t i = 0; i < V; ++i) sum += std::exp(p[i]) * (p[i] - q[i]);
    }
  }
  const double want = sum / n;
  EXPECT_GT(want, 0.0);
  EXPECT_NEAR(probe.kld(name, TensorType::Q2_K, q2), want, want * 1e-3);
  EXPECT_THROW(probe.kld("blk.9.nothing.weight", TensorType::Q2_K, q2), Error);
}

}  // namespace
}  // namespace qkv
