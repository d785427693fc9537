// GGUF hyperparameters -> config.json, the inverse of hparams.cpp.
#include <charconv>
#include <cstdlib>

#include "convert/hf_export.h"
#include "qkv/model.h"

namespace qkv::convert {

using nlohmann::json;

namespace {
// A float32 as the shortest decimal that reads back as it: 1e-05, not
// 9.999999747378752e-06.
double short_decimal(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}
}  // namespace

nlohmann::json hf_config(const gguf::File& f, const ArchSpec& arch, bool tied, const std::string& torch_dtype) {
  const ModelConfig c = ModelConfig::from_gguf(f);
  const auto& md = f.metadata();
  json j;
  j["architectures"] = json::array({std::string(arch.hf_arch)});
  const std::string a(arch.gguf_arch);
  if (a == "gpt2") {
    j["model_type"] = "gpt2";
    j["n_embd"] = c.n_embd;
    j["n_layer"] = c.n_layer;
    j["n_head"] = c.n_head;
    j["n_inner"] = c.n_ff;
    j["n_positions"] = c.n_ctx_train;
    j["n_ctx"] = c.n_ctx_train;
    j["layer_norm_epsilon"] = short_decimal(c.norm_eps);
    j["activation_function"] = "gelu_new";
  } else {
    j["model_type"] = a;
    j["hidden_size"] = c.n_embd;
    j["intermediate_size"] = c.n_ff;
    j["num_hidden_layers"] = c.n_layer;
    j["num_attention_heads"] = c.n_head;
    j["num_key_value_heads"] = c.n_head_kv;
    j["max_position_embeddings"] = c.n_ctx_train;
    j["rms_norm_eps"] = short_decimal(c.norm_eps);
    j["rope_theta"] = short_decimal(c.rope_base);
    j["hidden_act"] = "silu";
    if (c.head_dim != c.n_embd / c.n_head || a == "qwen3") j["head_dim"] = c.head_dim;
    if (c.rope_scale != 1.0f) j["rope_scaling"] = {{"type", "linear"}, {"factor", short_decimal(c.rope_scale)}};
    if (a == "llama") j["attention_bias"] = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  }
  const auto* embd = f.find_tensor("token_embd.weight");
  j["vocab_size"] = embd && embd->shape.size() == 2 ? embd->shape[1] : md.get_u64(a + ".vocab_size", 0);
  j["tie_word_embeddings"] = tied;
  // SpecialVocab reads <type>_token_id from config.json; ids of -1 (none) are left out.
  static constexpr std::pair<const char*, const char*> kIds[] = {
      {"bos_token_id", "tokenizer.ggml.bos_token_id"},     {"eos_token_id", "tokenizer.ggml.eos_token_id"},
      {"unk_token_id", "tokenizer.ggml.unknown_token_id"}, {"pad_token_id", "tokenizer.ggml.padding_token_id"},
      {"sep_token_id", "tokenizer.ggml.seperator_token_id"},  // sic, gguf-py's spelling
  };
  for (const auto& [hf, gguf_key] : kIds)
    if (const uint64_t id = md.get_u64(gguf_key, UINT32_MAX); id < UINT32_MAX) j[hf] = id;
  j["torch_dtype"] = torch_dtype;
  return j;
}

}  // namespace qkv::convert
