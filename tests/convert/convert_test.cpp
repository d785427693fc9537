// qkv convert on real Hugging Face folders and torch.save checkpoints: every
// tensor read back equals its source (exactly, at F32), the converted model
// runs and reproduces a reference generation, and direct quantized conversion
// equals converting then quantizing.
#include <gtest/gtest.h>

#include "qkv/convert.h"
#include "qkv/error.h"
#include "qkv/fp16.h"
#include "qkv/gguf.h"
#include "qkv/gguf_check.h"
#include "qkv/quant.h"
#include "qkv/safetensors.h"
#include "qkv/session.h"
#include "qkv/tokenizer.h"
#include "qkv/torch_checkpoint.h"
#include "test_support.h"

namespace qkv {
namespace {

std::vector<float> gguf_floats(const gguf::File& f, const std::string& name) {
  const auto* t = f.find_tensor(name);
  if (!t) return {};
  std::vector<float> v(t->n_elements());
  quant::dequantize(t->type, f.tensor_data(t - f.tensors().data()).data(), v.data(),
                    static_cast<int64_t>(t->n_elements() / t->shape[0]), static_cast<int64_t>(t->shape[0]));
  return v;
}

// Undo llama's Q/K row permutation: GGUF row (h, 2i + j) came from HF row (h, j * half + i).
std::vector<float> unpermute(const std::vector<float>& g, uint64_t rows, uint64_t cols, uint64_t heads) {
  std::vector<float> out(g.size());
  const uint64_t hd = rows / heads, half = hd / 2;
  for (uint64_t h = 0; h < heads; ++h)
    for (uint64_t i = 0; i < half; ++i)
      for (uint64_t j = 0; j < 2; ++j)
        for (uint64_t c = 0; c < cols; ++c) out[(h * hd + j * half + i) * cols + c] = g[(h * hd + 2 * i + j) * cols + c];
  return out;
}

TEST(Convert, TinyStoriesSafetensorsRoundTripsAndGeneratesTheReferenceStory) {
  QKV_REQUIRE_SHARED("models/hf-llama-tinystories-656k");
  const auto dir = test::shared_dir() / "models/hf-llama-tinystories-656k";
  test::TempDir tmp;
  const auto out = (tmp / "ts.gguf").string();
  ConvertOptions o;
  o.type = "F32";
  o.progress = false;
  const auto r = convert_to_gguf(dir.string(), out, o);
  EXPECT_EQ(r.architecture, "llama");
  const auto f = gguf::File::open(out);
  EXPECT_TRUE(gguf::audit_layout(f).ok());
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr) << "tied: the GGUF carries token_embd only";

  // Every tensor equals its source, through the inverse of its transform.
  const auto src = safetensors::File::open((dir / "model.safetensors").string());
  const std::map<std::string, std::string> names = {
      {"lm_head.weight", "token_embd.weight"}, {"model.norm.weight", "output_norm.weight"},
      {"model.layers.1.self_attn.q_proj.weight", "blk.1.attn_q.weight"},
      {"model.layers.1.self_attn.k_proj.weight", "blk.1.attn_k.weight"},
      {"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight"},
      {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"}};
  for (const auto& [hf, gg] : names) {
    const auto* t = src.find(hf);
    ASSERT_NE(t, nullptr) << hf;
    const auto want = to_f32(*t);
    auto got = gguf_floats(f, gg);
    if (gg.find("attn_q") != std::string::npos) got = unpermute(got, t->shape[0], t->shape[1], 8);
    if (gg.find("attn_k") != std::string::npos) got = unpermute(got, t->shape[0], t->shape[1], 4);
    EXPECT_EQ(got, want) << hf;
  }

  // SOURCES.md: a float64 forward pass, greedy from BOS, gives this story.
  const std::vector<int32_t> want = {147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145, 1652, 615,
                                     242, 1482, 951, 628, 499, 826, 872, 921, 318, 385, 628, 499, 826, 617,
                                     242, 198, 1047, 425, 1939, 122, 1924, 1171, 94, 303, 328, 229};
  Session s(Model::load(out), 64, 2);
  std::vector<int32_t> got;
  int32_t next = 1;
  for (size_t i = 0; i < want.size(); ++i) {
    const auto logits = s.decode(std::span<const int32_t>(&next, 1));
    next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    got.push_back(next);
  }
  EXPECT_EQ(got, want);
  const auto tok = Tokenizer::from_gguf(f.metadata());
  EXPECT_EQ(tok.encode("Once upon a time", true).front(), 1) << "BOS from tokenizer_config";
}

TEST(Convert, QuantizedDirectlyEqualsConvertThenQuantize) {
  QKV_REQUIRE_SHARED("models/hf-llama-tinystories-656k");
  const auto dir = test::shared_dir() / "models/hf-llama-tinystories-656k";
  test::TempDir tmp;
  ConvertOptions o;
  o.progress = false;
  o.type = "F32";
  convert_to_gguf(dir.string(), (tmp / "f32.gguf").string(), o);
  o.type = "Q4_K_M";
  convert_to_gguf(dir.string(), (tmp / "direct.gguf").string(), o);
  quant::QuantizeOptions q;
  q.type = "Q4_K_M";
  q.progress = false;
  quant::quantize_model((tmp / "f32.gguf").string(), (tmp / "two-step.gguf").string(), q);
  EXPECT_EQ(test::read_bytes(tmp / "direct.gguf"), test::read_bytes(tmp / "two-step.gguf"));
}

TEST(Convert, PytorchBinWithRotaryBuffersAndGpt2Safetensors) {
  QKV_REQUIRE_SHARED("models/hf-llama-tiny-random-4h");
  test::TempDir tmp;
  ConvertOptions o;
  o.type = "F16";
  o.progress = false;
  const auto dir = test::shared_dir() / "models/hf-llama-tiny-random-4h";
  const auto r = convert_to_gguf(dir.string(), (tmp / "ll.gguf").string(), o);
  EXPECT_EQ(r.skipped, 2u) << "two rotary_emb.inv_freq buffers";
  const auto f = gguf::File::open((tmp / "ll.gguf").string());
  const auto ck = torch::Checkpoint::open((dir / "pytorch_model.bin").string());
  const auto want = to_f32(*ck.find("model.layers.1.mlp.up_proj.weight"));
  const auto got = gguf_floats(f, "blk.1.ffn_up.weight");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], fp16_to_fp32(fp32_to_fp16(want[i])));
  Session s(Model::load((tmp / "ll.gguf").string()), 16, 1);
  EXPECT_EQ(s.decode(std::vector<int32_t>{1, 2, 3}).size(), 32000u);

  const auto g = test::shared_dir() / "models/hf-gpt2-tiny-random";
  convert_to_gguf(g.string(), (tmp / "g.gguf").string(), o);
  Session gs(Model::load((tmp / "g.gguf").string()), 16, 1);
  EXPECT_FALSE(gs.decode(std::vector<int32_t>{10, 20}).empty());
}

TEST(Convert, UnknownArchitectureListsTheSupportedOnes) {
  QKV_REQUIRE_SHARED("models/hf-bloom-tiny-random");
  test::TempDir tmp;
  try {
    convert_to_gguf((test::shared_dir() / "models/hf-bloom-tiny-random").string(), (tmp / "b.gguf").string(), {});
    FAIL() << "bloom is not supported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("LlamaForCausalLM"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(tmp / "b.gguf"));
}

}  // namespace
}  // namespace qkv
