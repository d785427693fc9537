// The per-tensor plan for a 32-layer llama-shaped model with GQA 4 under
// llama.cpp's mixtures. The expected types are written out by hand from
// llama.cpp's rules (llama_tensor_get_type), not produced by our code:
//   use_more_bits(i, 32) holds for i < 4, i >= 28 and (i - 4) % 3 == 2,
//   i.e. layers 0 1 2 3 6 9 12 15 18 21 24 27 28 29 30 31.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "qkv/recipe.h"

namespace qkv::quant {
namespace {

using T = TensorType;

std::vector<gguf::TensorInfo> llama_32_layers() {
  std::vector<gguf::TensorInfo> t;
  const uint64_t d = 4096, kv = 1024, ff = 14336, vocab = 32000;
  t.push_back({"token_embd.weight", {d, vocab}, T::F16, 0});
  for (int i = 0; i < 32; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_norm.weight", {d}, T::F32, 0});
    t.push_back({p + "attn_q.weight", {d, d}, T::F16, 0});
    t.push_back({p + "attn_k.weight", {d, kv}, T::F16, 0});
    t.push_back({p + "attn_v.weight", {d, kv}, T::F16, 0});
    t.push_back({p + "attn_output.weight", {d, d}, T::F16, 0});
    t.push_back({p + "ffn_norm.weight", {d}, T::F32, 0});
    t.push_back({p + "ffn_gate.weight", {d, ff}, T::F16, 0});
    t.push_back({p + "ffn_up.weight", {d, ff}, T::F16, 0});
    t.push_back({p + "ffn_down.weight", {ff, d}, T::F16, 0});
  }
  t.push_back({"output_norm.weight", {d}, T::F32, 0});
  t.push_back({"output.weight", {d, vocab}, T::F16, 0});
  return t;
}

Hparams llama_hparams(uint32_t layers, uint32_t heads, uint32_t kv_heads) {
  Hparams h;
  h.arch = "llama", h.n_layer = layers, h.n_head = heads, h.n_head_kv = kv_heads;
  return h;
}

const std::set<int> kMoreBits = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};

std::map<std::string, T> plan_for(const char* ftype) {
  const Hparams m = llama_hparams(32, 32, 8);
  const auto tensors = llama_32_layers();
  std::map<std::string, T> out;
  for (const auto& p : plan(m, tensors, *find_file_type(ftype), {})) out[tensors[p.input_index].name] = p.to;
  return out;
}

// Everything not listed in `special` gets `base`; norms stay F32; output is Q6_K.
void expect_plan(const char* ftype, T base, T token_embd, const std::map<std::string, T>& special) {
  const auto got = plan_for(ftype);
  ASSERT_EQ(got.size(), 1u + 32 * 9 + 2);
  for (const auto& [name, type] : got) {
    T want = base;
    if (name.find("_norm") != std::string::npos) want = T::F32;
    else if (name == "output.weight") want = T::Q6_K;
    else if (name == "token_embd.weight") want = token_embd;
    else if (auto it = special.find(name); it != special.end()) want = it->second;
    EXPECT_EQ(type_name(type), type_name(want)) << ftype << " " << name;
  }
}

std::string layer(int i, const char* t) { return "blk." + std::to_string(i) + "." + t + ".weight"; }

TEST(Recipe, Q4_K_M) {
  std::map<std::string, T> s;
  for (int i : kMoreBits) s[layer(i, "attn_v")] = s[layer(i, "ffn_down")] = T::Q6_K;
  expect_plan("Q4_K_M", T::Q4_K, T::Q4_K, s);
}

TEST(Recipe, Q5_K_M) {
  std::map<std::string, T> s;
  for (int i : kMoreBits) s[layer(i, "attn_v")] = s[layer(i, "ffn_down")] = T::Q6_K;
  expect_plan("Q5_K_M", T::Q5_K, T::Q5_K, s);
}

TEST(Recipe, Q3_K_M) {
  std::map<std::string, T> s;
  for (int i = 0; i < 32; ++i) {
    s[layer(i, "attn_v")] = i < 2 ? T::Q5_K : T::Q4_K;    // first two attn_v tensors
    s[layer(i, "ffn_down")] = i < 2 ? T::Q5_K : T::Q4_K;  // i < n_layer/16, then Q4_K (not falcon)
    s[layer(i, "attn_output")] = T::Q4_K;
  }
  expect_plan("Q3_K_M", T::Q3_K, T::Q3_K, s);
}

TEST(Recipe, Q2_K) {
  std::map<std::string, T> s;
  for (int i = 0; i < 32; ++i) {
    s[layer(i, "attn_v")] = T::Q4_K;  // GQA >= 4
    s[layer(i, "ffn_down")] = T::Q3_K;
    s[layer(i, "attn_output")] = T::Q3_K;
  }
  expect_plan("Q2_K", T::Q2_K, T::Q2_K, s);
}

TEST(Recipe, OrderIsLlamaQuantizes) {
  const Hparams m = llama_hparams(32, 32, 8);
  const auto tensors = llama_32_layers();
  const auto p = plan(m, tensors, *find_file_type("Q4_0"), {});
  EXPECT_EQ(tensors[p[0].input_index].name, "output.weight");
  EXPECT_EQ(tensors[p[1].input_index].name, "output_norm.weight");
  EXPECT_EQ(tensors[p[2].input_index].name, "token_embd.weight");
  EXPECT_EQ(tensors[p[3].input_index].name, "blk.0.attn_k.weight");
  EXPECT_EQ(tensors[p.back().input_index].name, "blk.31.ffn_up.weight") << "layer 31 last: numeric, not string, order";
}

TEST(Recipe, FallbackWhenRowIsNotWholeBlocks) {
  const Hparams m = llama_hparams(1, 2, 2);
  std::vector<gguf::TensorInfo> t = {{"blk.0.ffn_down.weight", {4128, 64}, T::F32, 0},  // 4128 = 129 * 32
                                     {"blk.0.ffn_up.weight", {100, 64}, T::F32, 0}};
  const auto p = plan(m, t, *find_file_type("Q4_K_S"), {});
  for (const auto& x : p) {
    if (t[x.input_index].name == "blk.0.ffn_down.weight") {
      EXPECT_EQ(x.to, T::Q5_0) << "Q5_K -> Q5_0";
    }
    if (t[x.input_index].name == "blk.0.ffn_up.weight") {
      EXPECT_EQ(x.to, T::F16) << "no 32-block fits 100 columns";
    }
    EXPECT_TRUE(x.fallback);
  }
}

TEST(Recipe, OverridesAndPure) {
  const Hparams m = llama_hparams(32, 32, 8);
  const auto tensors = llama_32_layers();
  PlanOptions o;
  o.tensor_type_overrides = {{"attn_(q|k)", T::Q8_0}};
  o.output_tensor_type = T::Q8_0;
  o.token_embedding_type = T::Q5_K;
  for (const auto& p : plan(m, tensors, *find_file_type("Q4_K_M"), o)) {
    const auto& n = tensors[p.input_index].name;
    if (n.find("attn_q") != std::string::npos || n.find("attn_k") != std::string::npos) {
      EXPECT_EQ(p.to, T::Q8_0) << n;
    }
    if (n == "output.weight") {
      EXPECT_EQ(p.to, T::Q8_0);
    }
    if (n == "token_embd.weight") {
      EXPECT_EQ(p.to, T::Q5_K);
    }
  }
  PlanOptions pure;
  pure.pure = true;
  for (const auto& p : plan(m, tensors, *find_file_type("Q4_K_M"), pure)) {
    const auto& n = tensors[p.input_index].name;
    EXPECT_EQ(p.to, n.find("_norm") != std::string::npos ? T::F32 : T::Q4_K) << n;
  }
}

}  // namespace
}  // namespace qkv::quant
