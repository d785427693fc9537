#include "convert/arch.h"

#include <cstdlib>

namespace qkv::convert {
namespace {

using X = Transform;

// Tensors every llama-like decoder shares.
std::vector<TensorRule> llama_like(bool permute_qk) {
  return {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.{bid}.input_layernorm.weight", "blk.{bid}.attn_norm.weight"},
      {"model.layers.{bid}.self_attn.q_proj.weight", "blk.{bid}.attn_q.weight", permute_qk ? X::PermuteQ : X::None},
      {"model.layers.{bid}.self_attn.k_proj.weight", "blk.{bid}.attn_k.weight", permute_qk ? X::PermuteK : X::None},
      {"model.layers.{bid}.self_attn.v_proj.weight", "blk.{bid}.attn_v.weight"},
      {"model.layers.{bid}.self_attn.o_proj.weight", "blk.{bid}.attn_output.weight"},
      {"model.layers.{bid}.self_attn.q_proj.bias", "blk.{bid}.attn_q.bias", permute_qk ? X::PermuteQ : X::None},
      {"model.layers.{bid}.self_attn.k_proj.bias", "blk.{bid}.attn_k.bias", permute_qk ? X::PermuteK : X::None},
      {"model.layers.{bid}.self_attn.v_proj.bias", "blk.{bid}.attn_v.bias"},
      {"model.layers.{bid}.self_attn.o_proj.bias", "blk.{bid}.attn_output.bias"},
      {"model.layers.{bid}.self_attn.q_norm.weight", "blk.{bid}.attn_q_norm.weight"},
      {"model.layers.{bid}.self_attn.k_norm.weight", "blk.{bid}.attn_k_norm.weight"},
      {"model.layers.{bid}.post_attention_layernorm.weight", "blk.{bid}.ffn_norm.weight"},
      {"model.layers.{bid}.mlp.gate_proj.weight", "blk.{bid}.ffn_gate.weight"},
      {"model.layers.{bid}.mlp.up_proj.weight", "blk.{bid}.ffn_up.weight"},
      {"model.layers.{bid}.mlp.down_proj.weight", "blk.{bid}.ffn_down.weight"},
  };
}

std::vector<TensorRule> phi3_rules() {
  return {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.{bid}.input_layernorm.weight", "blk.{bid}.attn_norm.weight"},
      {"model.layers.{bid}.self_attn.qkv_proj.weight", "blk.{bid}.attn_qkv.weight"},
      {"model.layers.{bid}.self_attn.o_proj.weight", "blk.{bid}.attn_output.weight"},
      {"model.layers.{bid}.post_attention_layernorm.weight", "blk.{bid}.ffn_norm.weight"},
      {"model.layers.{bid}.mlp.gate_up_proj.weight", "blk.{bid}.ffn_up.weight"},
      {"model.layers.{bid}.mlp.down_proj.weight", "blk.{bid}.ffn_down.weight"},
  };
}

std::vector<TensorRule> gpt2_rules() {
  return {
      {"transformer.wte.weight", "token_embd.weight"},
      {"transformer.wpe.weight", "position_embd.weight"},
      {"transformer.ln_f.weight", "output_norm.weight"},
      {"transformer.ln_f.bias", "output_norm.bias"},
      {"lm_head.weight", "output.weight"},
      {"transformer.h.{bid}.ln_1.weight", "blk.{bid}.attn_norm.weight"},
      {"transformer.h.{bid}.ln_1.bias", "blk.{bid}.attn_norm.bias"},
      {"transformer.h.{bid}.attn.c_attn.weight", "blk.{bid}.attn_qkv.weight", X::Transpose},
      {"transformer.h.{bid}.attn.c_attn.bias", "blk.{bid}.attn_qkv.bias"},
      {"transformer.h.{bid}.attn.c_proj.weight", "blk.{bid}.attn_output.weight", X::Transpose},
      {"transformer.h.{bid}.attn.c_proj.bias", "blk.{bid}.attn_output.bias"},
      {"transformer.h.{bid}.ln_2.weight", "blk.{bid}.ffn_norm.weight"},
      {"transformer.h.{bid}.ln_2.bias", "blk.{bid}.ffn_norm.bias"},
      {"transformer.h.{bid}.mlp.c_fc.weight", "blk.{bid}.ffn_up.weight", X::Transpose},
      {"transformer.h.{bid}.mlp.c_fc.bias", "blk.{bid}.ffn_up.bias"},
      {"transformer.h.{bid}.mlp.c_proj.weight", "blk.{bid}.ffn_down.weight", X::Transpose},
      {"transformer.h.{bid}.mlp.c_proj.bias", "blk.{bid}.ffn_down.bias"},
  };
}

const std::vector<ArchSpec>& specs() {
  static const std::vector<ArchSpec> all = {
      {"LlamaForCausalLM", "llama", llama_like(true), {"rotary_emb.inv_freq"}},
      {"MistralForCausalLM", "llama", llama_like(true), {"rotary_emb.inv_freq"}},
      {"Qwen2ForCausalLM", "qwen2", llama_like(false), {"rotary_emb.inv_freq"}},
      {"Qwen3ForCausalLM", "qwen3", llama_like(false), {"rotary_emb.inv_freq"}},
      {"Phi3ForCausalLM", "phi3", phi3_rules(), {"rotary_emb.inv_freq"}},
      {"GPT2LMHeadModel", "gpt2", gpt2_rules(), {".attn.bias", ".attn.masked_bias"}},
  };
  return all;
}

// Matches `name` against `pattern` with one optional {bid}; returns the block number (or -1 when
// the pattern has none), or -2 when it does not match.
long match(std::string_view pattern, const std::string& name) {
  const size_t at = pattern.find("{bid}");
  if (at == std::string_view::npos) return name == pattern ? -1 : -2;
  const std::string_view pre = pattern.substr(0, at), post = pattern.substr(at + 5);
  if (name.size() <= pre.size() + post.size() || name.compare(0, pre.size(), pre) != 0 ||
      name.compare(name.size() - post.size(), post.size(), post) != 0)
    return -2;
  const std::string digits = name.substr(pre.size(), name.size() - pre.size() - post.size());
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return -2;
  return std::strtol(digits.c_str(), nullptr, 10);
}

}  // namespace

const ArchSpec* find_arch(std::string_view hf_arch) {
  for (const auto& s : specs())
    if (s.hf_arch == hf_arch) return &s;
  return nullptr;
}

std::string supported_archs() {
  std::string s;
  for (const auto& a : specs()) s += (s.empty() ? "" : ", ") + std::string(a.hf_arch);
  return s;
}

std::optional<Mapped> map_tensor_name(const ArchSpec& a, const std::string& hf_name, bool* skipped) {
  *skipped = false;
  for (const auto& frag : a.skip)
    if (hf_name.find(frag) != std::string::npos) {
      *skipped = true;
      return std::nullopt;
    }
  for (const auto& r : a.rules) {
    const long bid = match(r.hf, hf_name);
    if (bid == -2) continue;
    std::string out(r.gguf);
    if (bid >= 0) out.replace(out.find("{bid}"), 5, std::to_string(bid));
    return Mapped{out, r.transform};
  }
  return std::nullopt;
}

std::optional<Mapped> map_gguf_name(const ArchSpec& a, const std::string& gguf_name) {
  for (const auto& r : a.rules) {
    const long bid = match(r.gguf, gguf_name);
    if (bid == -2) continue;
    std::string out(r.hf);
    if (bid >= 0) out.replace(out.find("{bid}"), 5, std::to_string(bid));
    return Mapped{out, r.transform};
  }
  return std::nullopt;
}

const ArchSpec* find_arch_for_gguf(std::string_view gguf_arch) {
  for (const auto& s : specs())
    if (s.gguf_arch == gguf_arch) return &s;
  return nullptr;
}

}  // namespace qkv::convert
