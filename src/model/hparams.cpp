#include "qkv/hparams.h"

namespace qkv {
namespace {

const gguf::Value* scalar(const gguf::Metadata& md, const std::string& key) {
  const gguf::Value* v = md.find(key);
  if (v && v->type == gguf::ValueType::ARRAY) return v->items.empty() ? nullptr : &v->items[0];
  return v;
}

uint32_t u32(const gguf::Metadata& md, const std::string& key, uint32_t def) {
  const gguf::Value* v = scalar(md, key);
  return v ? static_cast<uint32_t>(v->as_u64()) : def;
}

float f32(const gguf::Metadata& md, const std::string& key, float def) {
  const gguf::Value* v = scalar(md, key);
  return v ? static_cast<float>(v->as_f64()) : def;
}

}  // namespace

Hparams Hparams::from_metadata(const gguf::Metadata& md) {
  Hparams h;
  h.arch = md.get_string("general.architecture");
  const std::string p = h.arch + ".";
  h.n_vocab = u32(md, p + "vocab_size", 0);
  if (const gguf::Value* t = md.find("tokenizer.ggml.tokens"); t && !h.n_vocab) h.n_vocab = uint32_t(t->items.size());
  h.n_ctx_train = u32(md, p + "context_length", h.n_ctx_train);
  h.n_embd = u32(md, p + "embedding_length", 0);
  h.n_layer = u32(md, p + "block_count", 0);
  h.n_head = u32(md, p + "attention.head_count", 0);
  h.n_head_kv = u32(md, p + "attention.head_count_kv", h.n_head);
  h.n_ff = u32(md, p + "feed_forward_length", 0);
  h.n_expert = u32(md, p + "expert_count", 0);
  h.head_dim = u32(md, p + "attention.key_length", h.n_head ? h.n_embd / h.n_head : 0);
  h.n_rot = u32(md, p + "rope.dimension_count", h.head_dim);
  h.norm_eps = h.arch == "gpt2" ? f32(md, p + "attention.layer_norm_epsilon", h.norm_eps)
                                : f32(md, p + "attention.layer_norm_rms_epsilon", h.norm_eps);
  h.rope_base = f32(md, p + "rope.freq_base", h.rope_base);
  if (md.get_string(p + "rope.scaling.type", "none") == "linear") h.rope_scale = f32(md, p + "rope.scaling.factor", 1.0f);
  return h;
}

void Hparams::to_metadata(gguf::Metadata& md) const {
  using gguf::Value;
  const std::string p = arch + ".";
  md.set(p + "context_length", Value::u32(n_ctx_train));
  md.set(p + "embedding_length", Value::u32(n_embd));
  md.set(p + "block_count", Value::u32(n_layer));
  md.set(p + "feed_forward_length", Value::u32(n_ff));
  md.set(p + "attention.head_count", Value::u32(n_head));
  if (arch == "gpt2") {
    md.set(p + "attention.layer_norm_epsilon", Value::f32(norm_eps));
  } else {
    md.set(p + "attention.head_count_kv", Value::u32(n_head_kv));
    md.set(p + "rope.freq_base", Value::f32(rope_base));
    md.set(p + "attention.layer_norm_rms_epsilon", Value::f32(norm_eps));
    md.set(p + "rope.dimension_count", Value::u32(n_rot));
    if (n_head && head_dim != n_embd / n_head) {
      md.set(p + "attention.key_length", Value::u32(head_dim));
      md.set(p + "attention.value_length", Value::u32(head_dim));
    }
    if (rope_scale != 1.0f) {
      md.set(p + "rope.scaling.type", Value::string("linear"));
      md.set(p + "rope.scaling.factor", Value::f32(rope_scale));
    }
  }
  if (n_expert) md.set(p + "expert_count", Value::u32(n_expert));
  md.set(p + "vocab_size", Value::u32(n_vocab));
}

}  // namespace qkv
