// qkv convert to Hugging Face: GGUF -> HF folder -> GGUF gives back every
// tensor bit for bit (names, Q/K un-permutation, GPT-2 transposes, tied
// heads) and the same tokenizer; a torch implementation of transformers'
// Llama forward on the exported folder reproduces llama.cpp's logits; HF and
// torch checkpoints re-save as safetensors with identical values.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "qkv/convert.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/fp16.h"
#include "qkv/gguf.h"
#include "qkv/quant.h"
#include "qkv/safetensors.h"
#include "qkv/torch_checkpoint.h"
#include "test_support.h"
#include "train/torch_oracle.h"

namespace qkv {
namespace {

namespace fs = std::filesystem;

ConvertOptions quiet(const std::string& type) {
  ConvertOptions o;
  o.type = type;
  o.progress = false;
  o.threads = 2;
  return o;
}

std::vector<float> floats_of(const gguf::File& f, size_t i) {
  const auto& t = f.tensors()[i];
  std::vector<float> v(t.n_elements());
  quant::dequantize(t.type, f.tensor_data(i).data(), v.data(), static_cast<int64_t>(t.n_elements() / t.shape[0]),
                    static_cast<int64_t>(t.shape[0]));
  return v;
}

// Every tensor of `want` is in `got` with the same shape and the same floats, bit for bit.
void expect_same_tensors(const gguf::File& want, const gguf::File& got) {
  ASSERT_EQ(want.tensors().size(), got.tensors().size());
  for (size_t i = 0; i < want.tensors().size(); ++i) {
    const auto& t = want.tensors()[i];
    const auto* g = got.find_tensor(t.name);
    ASSERT_TRUE(g) << t.name << " is missing after the round trip";
    EXPECT_EQ(g->shape, t.shape) << t.name;
    const auto a = floats_of(want, i), b = floats_of(got, g - got.tensors().data());
    ASSERT_EQ(a.size(), b.size()) << t.name;
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << t.name << " differs after the round trip";
  }
}

void expect_same_key(const gguf::File& a, const gguf::File& b, const std::string& key) {
  const auto* x = a.metadata().find(key);
  const auto* y = b.metadata().find(key);
  ASSERT_TRUE(x) << key;
  ASSERT_TRUE(y) << key << " is missing after the round trip";
  EXPECT_EQ(x->to_string(1u << 20), y->to_string(1u << 20)) << key;
}

TEST(ConvertToHf, Stories260KRoundTripsBitForBitWithItsTokenizer) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  const std::string src = (test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string();
  test::TempDir dir;
  const auto r = convert_to_hf(src, (dir / "hf/").string(), quiet("F32"));
  EXPECT_EQ(r.architecture, "LlamaForCausalLM");
  for (const char* f : {"model.safetensors", "config.json", "generation_config.json", "tokenizer.model",
                        "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(dir / "hf" / f)) << f;
  // The HF names and PyTorch shapes transformers expects.
  const auto st = safetensors::File::open((dir / "hf/model.safetensors").string());
  ASSERT_TRUE(st.find("model.layers.0.self_attn.k_proj.weight"));
  EXPECT_EQ(st.find("model.layers.0.self_attn.k_proj.weight")->shape, (std::vector<uint64_t>{32, 64}));
  ASSERT_TRUE(st.find("lm_head.weight"));
  EXPECT_EQ(st.metadata().at("format"), "pt");

  convert_to_gguf((dir / "hf").string(), (dir / "back.gguf").string(), quiet("F32"));
  const auto a = gguf::File::open(src), b = gguf::File::open((dir / "back.gguf").string());
  expect_same_tensors(a, b);
  for (const char* k : {"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                        "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                        "tokenizer.ggml.unknown_token_id", "llama.attention.head_count_kv",
                        "llama.attention.layer_norm_rms_epsilon", "llama.feed_forward_length"})
    expect_same_key(a, b, k);
}

TEST(ConvertToHf, TransformersLlamaForwardOnTheExportMatchesLlamaCpp) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  QKV_REQUIRE_TORCH();
  const auto models = test::shared_dir() / "models/gguf-stories260K";
  test::TempDir dir;
  convert_to_hf((models / "stories260K.gguf").string(), (dir / "hf/").string(), quiet("F32"));
  const auto script = fs::path(QKV_SOURCE_DIR) / "tests/convert/hf_llama_forward.py";
  const std::string cmd = test::torch_python() + " '" + script.string() + "' '" + (dir / "hf").string() +
                          "' 1,403,407,261,378 > '" + (dir / "logits.txt").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream ours(dir / "logits.txt"), want(models / "logits.tokens-1,403,407,261,378.txt");
  double diff = 0, ref = 0;
  size_t n = 0;
  for (double x, y; ours >> x && want >> y; ++n) {
    diff = std::max(diff, std::abs(x - y));
    ref = std::max(ref, std::abs(y));
  }
  EXPECT_EQ(n, 512u);
  // The same bar as our runtime against llama.cpp: 2e-3 of the largest logit.
  EXPECT_LE(diff, 2e-3 * ref) << "max |torch on HF export - llama.cpp| " << diff;
}

TEST(ConvertToHf, QuantizedGgufExportsItsDequantizedWeights) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  const std::string src = (test::shared_dir() / "models/gguf-llamacpp-quantized/tiny-llama-Q4_K_M.gguf").string();
  test::TempDir dir;
  convert_to_hf(src, (dir / "hf/").string(), quiet("F32"));
  convert_to_gguf((dir / "hf").string(), (dir / "back.gguf").string(), quiet("F32"));
  // Back at F32, every tensor equals the quantized file's dequantized values.
  const auto a = gguf::File::open(src), b = gguf::File::open((dir / "back.gguf").string());
  expect_same_tensors(a, b);
  expect_same_key(a, b, "tokenizer.ggml.tokens");
  expect_same_key(a, b, "tokenizer.ggml.token_type");
}

TEST(ConvertToHf, Gpt2RoundTripsWithItsByteLevelTokenizer) {
  QKV_REQUIRE_SHARED("models/hf-gpt2-tiny-random");
  const auto hf = test::shared_dir() / "models/hf-gpt2-tiny-random";
  test::TempDir dir;
  convert_to_gguf(hf.string(), (dir / "a.gguf").string(), quiet("F32"));
  convert_to_hf((dir / "a.gguf").string(), (dir / "hf/").string(), quiet("F32"));
  convert_to_gguf((dir / "hf").string(), (dir / "b.gguf").string(), quiet("F32"));
  const auto a = gguf::File::open((dir / "a.gguf").string()), b = gguf::File::open((dir / "b.gguf").string());
  expect_same_tensors(a, b);
  for (const char* k : {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
                        "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "gpt2.attention.layer_norm_epsilon"})
    expect_same_key(a, b, k);
  // Conv1D weights go back to [in, out].
  const auto st = safetensors::File::open((dir / "hf/model.safetensors").string());
  const auto src = safetensors::File::open((hf / "model.safetensors").string());
  const auto* orig = src.find("transformer.h.0.mlp.c_fc.weight");
  ASSERT_TRUE(orig);
  ASSERT_TRUE(st.find("transformer.h.0.mlp.c_fc.weight"));
  EXPECT_EQ(st.find("transformer.h.0.mlp.c_fc.weight")->shape, orig->shape);
}

TEST(ConvertToHf, HfFolderResavesEveryTensorExactly) {
  QKV_REQUIRE_SHARED("models/hf-llama-tinystories-656k");
  const auto hf = test::shared_dir() / "models/hf-llama-tinystories-656k";
  test::TempDir dir;
  const auto r = convert_to_hf(hf.string(), (dir / "out/").string(), quiet("F32"));
  const auto src = safetensors::File::open((hf / "model.safetensors").string());
  const auto out = safetensors::File::open((dir / "out/model.safetensors").string());
  EXPECT_EQ(r.tensors, src.tensors().size());
  for (const auto& t : src.tensors()) {
    const auto* o = out.find(t.name);
    ASSERT_TRUE(o) << t.name;
    EXPECT_EQ(o->shape, t.shape) << t.name;
    EXPECT_EQ(to_f32(*o), to_f32(t)) << t.name;
  }
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    EXPECT_EQ(read_file((dir / "out" / f).string()), read_file((hf / f).string())) << f;
}

TEST(ConvertToHf, TorchCheckpointBecomesOneSafetensorsFile) {
  QKV_REQUIRE_SHARED("models/hf-llama-tiny-random-4h");
  const auto bin = test::shared_dir() / "models/hf-llama-tiny-random-4h/pytorch_model.bin";
  test::TempDir dir;
  convert_to_hf(bin.string(), (dir / "m.safetensors").string(), quiet("BF16"));
  const auto out = safetensors::File::open((dir / "m.safetensors").string());
  const auto src = torch::Checkpoint::open(bin.string());
  ASSERT_EQ(out.tensors().size(), src.tensors().size());
  for (const auto& t : src.tensors()) {
    const auto* o = out.find(t.name);
    ASSERT_TRUE(o) << t.name;
    EXPECT_EQ(o->dtype, DType::BF16) << t.name;
    std::vector<float> want = to_f32(t);
    for (float& x : want) x = bf16_to_fp32(fp32_to_bf16(x));
    EXPECT_EQ(to_f32(*o), want) << t.name;
  }
  EXPECT_FALSE(fs::exists(dir / "config.json"));  // a lone .safetensors gets the weights alone
}

TEST(ConvertToHf, RefusesQuantizedOutputTypes) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  test::TempDir dir;
  try {
    convert_to_hf((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string(),
                  (dir / "hf/").string(), quiet("Q4_K_M"));
    FAIL() << "Q4_K_M accepted for a Hugging Face output";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("--type"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qkv
