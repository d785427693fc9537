// The one hyperparameter struct: what it reads from metadata, what it
// writes, and that the two agree.
#include "qkv/hparams.h"

#include <gtest/gtest.h>

namespace qkv {
namespace {

TEST(Hparams, WritesTheKeysLlamaCppReadsAndReadsThemBack) {
  Hparams h;
  h.arch = "llama";
  h.n_vocab = 32000, h.n_ctx_train = 4096, h.n_embd = 2048, h.n_layer = 22, h.n_head = 32, h.n_head_kv = 4;
  h.n_ff = 5632, h.head_dim = h.n_rot = 64, h.norm_eps = 1e-6f, h.rope_base = 500000.0f, h.rope_scale = 4.0f;
  gguf::Metadata md;
  md.set("general.architecture", gguf::Value::string("llama"));
  h.to_metadata(md);
  EXPECT_EQ(md.get_u64("llama.attention.head_count_kv", 0), 4u);
  EXPECT_EQ(md.get_u64("llama.rope.dimension_count", 0), 64u);
  EXPECT_EQ(md.get_string("llama.rope.scaling.type"), "linear");
  EXPECT_EQ(md.find("llama.attention.key_length"), nullptr) << "written only when head_dim is not n_embd / n_head";
  EXPECT_EQ(md.entries().back().first, "llama.vocab_size");
  EXPECT_EQ(Hparams::from_metadata(md), h);
  EXPECT_EQ(Hparams::from_metadata(md).n_gqa(), 8u);
}

TEST(Hparams, Gpt2HasALayerNormEpsilonAndNoRope) {
  Hparams h;
  h.arch = "gpt2";
  h.n_vocab = 50257, h.n_ctx_train = 1024, h.n_embd = 768, h.n_layer = 12, h.n_head = h.n_head_kv = 12;
  h.n_ff = 3072, h.head_dim = h.n_rot = 64, h.norm_eps = 1e-5f;
  gguf::Metadata md;
  md.set("general.architecture", gguf::Value::string("gpt2"));
  h.to_metadata(md);
  EXPECT_NE(md.find("gpt2.attention.layer_norm_epsilon"), nullptr);
  EXPECT_EQ(md.find("gpt2.rope.freq_base"), nullptr);
  EXPECT_EQ(Hparams::from_metadata(md), h);
}

TEST(Hparams, AbsentKeysTakeLlamaCppsDefaultsAndArraysTheirFirstLayer) {
  gguf::Metadata md;
  md.set("general.architecture", gguf::Value::string("qwen3"));
  md.set("qwen3.embedding_length", gguf::Value::u32(1024));
  md.set("qwen3.block_count", gguf::Value::u32(80));
  md.set("qwen3.attention.head_count", gguf::Value::array(gguf::ValueType::U32, {gguf::Value::u32(16), gguf::Value::u32(8)}));
  md.set("tokenizer.ggml.tokens", gguf::Value::string_array({"a", "b", "c"}));
  const Hparams h = Hparams::from_metadata(md);
  EXPECT_EQ(h.n_head, 16u);
  EXPECT_EQ(h.n_head_kv, 16u);
  EXPECT_EQ(h.head_dim, 64u);
  EXPECT_EQ(h.n_rot, 64u);
  EXPECT_EQ(h.n_ctx_train, 2048u);
  EXPECT_EQ(h.n_vocab, 3u) << "from the tokenizer when vocab_size is absent";
  EXPECT_FLOAT_EQ(h.rope_scale, 1.0f);
  EXPECT_FALSE(h.is_70b()) << "only llama's 70B gets the recipe's extra bits";
  Hparams l = h;
  l.arch = "llama", l.n_head_kv = 8;
  EXPECT_TRUE(l.is_70b());
  EXPECT_EQ(Hparams::from_metadata(gguf::Metadata{}).n_layer, 0u);
}

}  // namespace
}  // namespace qkv
