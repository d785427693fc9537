#include "convert/hparams.h"

#include <cmath>

#include "qkv/error.h"

namespace qkv::convert {
namespace {

uint32_t need_u32(const nlohmann::json& c, std::initializer_list<const char*> keys, const std::string& path) {
  for (const char* k : keys)
    if (c.contains(k) && c[k].is_number_integer()) return c[k].get<uint32_t>();
  throw Error(ErrorKind::Format, "config.json has no '" + std::string(*keys.begin()) + "'", path);
}

uint32_t opt_u32(const nlohmann::json& c, const char* key, uint32_t def) {
  return c.contains(key) && c[key].is_number_integer() ? c[key].get<uint32_t>() : def;
}

double opt_f64(const nlohmann::json& c, const char* key, double def) {
  return c.contains(key) && c[key].is_number() ? c[key].get<double>() : def;
}

// Llama 3.1's "llama3" RoPE scaling, as llama.cpp bakes it into rope_freqs.weight.
std::vector<float> llama3_rope_factors(const nlohmann::json& s, double base, uint32_t dim) {
  const double factor = opt_f64(s, "factor", 8.0), low = opt_f64(s, "low_freq_factor", 1.0),
               high = opt_f64(s, "high_freq_factor", 4.0);
  const double old_ctx = opt_f64(s, "original_max_position_embeddings", 8192);
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (uint32_t i = 0; i < dim; i += 2) {
    const float freq = static_cast<float>(1.0 / std::pow(base, static_cast<float>(i) / static_cast<float>(dim)));
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) out.push_back(1.0f);
    else if (wavelen > low_wavelen) out.push_back(static_cast<float>(factor));
    else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

}  // namespace

HfConfig read_hf_config(const nlohmann::json& c, const std::string& path) {
  HfConfig r;
  std::string hf_arch;
  if (c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty())
    hf_arch = c["architectures"][0].get<std::string>();
  r.arch = find_arch(hf_arch);
  if (!r.arch)
    throw Error(ErrorKind::Unsupported,
                "architecture '" + (hf_arch.empty() ? std::string("(none given)") : hf_arch) +
                    "' is not supported; supported: " + supported_archs(),
                path);
  Hparams& h = r.gguf;
  h.arch = std::string(r.arch->gguf_arch);
  const bool gpt2 = h.arch == "gpt2";
  h.n_layer = need_u32(c, {"num_hidden_layers", "n_layer"}, path);
  h.n_embd = need_u32(c, {"hidden_size", "n_embd"}, path);
  h.n_head = need_u32(c, {"num_attention_heads", "n_head"}, path);
  h.n_head_kv = opt_u32(c, "num_key_value_heads", h.n_head);
  h.n_ff = gpt2 ? opt_u32(c, "n_inner", 4 * h.n_embd) : need_u32(c, {"intermediate_size"}, path);
  if (gpt2 && c.contains("n_inner") && c["n_inner"].is_null()) h.n_ff = 4 * h.n_embd;
  h.n_ctx_train = need_u32(c, {"max_position_embeddings", "n_positions", "n_ctx"}, path);
  h.n_vocab = need_u32(c, {"vocab_size"}, path);
  if (h.n_head == 0 || h.n_head_kv == 0 || h.n_embd % h.n_head != 0 || h.n_head % h.n_head_kv != 0)
    throw Error(ErrorKind::Format, "inconsistent head counts in config.json", path);
  h.head_dim = h.n_rot = opt_u32(c, "head_dim", h.n_embd / h.n_head);
  h.norm_eps = static_cast<float>(gpt2 ? opt_f64(c, "layer_norm_epsilon", 1e-5) : opt_f64(c, "rms_norm_eps", 1e-6));
  h.rope_base = static_cast<float>(opt_f64(c, "rope_theta", 10000));
  r.tied_embeddings = c.value("tie_word_embeddings", gpt2);
  if (c.contains("rope_scaling") && c["rope_scaling"].is_object()) {
    const auto& s = c["rope_scaling"];
    const std::string type = s.value("rope_type", s.value("type", ""));
    if (type == "llama3") r.rope_freqs = llama3_rope_factors(s, opt_f64(c, "rope_theta", 10000), h.head_dim);
    if (type == "linear" && !gpt2) h.rope_scale = static_cast<float>(opt_f64(s, "factor", 1.0));
  }
  return r;
}

void add_hparams_metadata(const HfConfig& h, const std::string& model_name, gguf::Metadata& md) {
  md.set("general.architecture", gguf::Value::string(h.gguf.arch));
  md.set("general.name", gguf::Value::string(model_name));
  h.gguf.to_metadata(md);
}

}  // namespace qkv::convert
