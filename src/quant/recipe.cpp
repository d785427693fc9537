// Tensor type selection, following llama-quantize's rules. The rules are
// kept in the same shape as upstream (one function per concern, the same
// branch order) so that a reader can check them side by side.
#include "qkv/recipe.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "qkv/error.h"
#include "qkv/quant.h"

namespace qkv::quant {
namespace {

using T = TensorType;

// llama_ftype values (include/llama.h). Only file types we can produce.
constexpr std::array kFileTypes = {
    FileType{"F32", 0, T::F32},      FileType{"F16", 1, T::F16},       FileType{"Q4_0", 2, T::Q4_0},
    FileType{"Q4_1", 3, T::Q4_1},    FileType{"Q8_0", 7, T::Q8_0},     FileType{"Q5_0", 8, T::Q5_0},
    FileType{"Q5_1", 9, T::Q5_1},    FileType{"Q2_K", 10, T::Q2_K},    FileType{"Q3_K_S", 11, T::Q3_K},
    FileType{"Q3_K_M", 12, T::Q3_K}, FileType{"Q3_K_L", 13, T::Q3_K},  FileType{"Q4_K_S", 14, T::Q4_K},
    FileType{"Q4_K_M", 15, T::Q4_K}, FileType{"Q5_K_S", 16, T::Q5_K},  FileType{"Q5_K_M", 17, T::Q5_K},
    FileType{"Q6_K", 18, T::Q6_K},   FileType{"IQ4_NL", 25, T::IQ4_NL}, FileType{"IQ4_XS", 30, T::IQ4_XS},
    FileType{"BF16", 32, T::BF16},   FileType{"TQ1_0", 36, T::TQ1_0},  FileType{"TQ2_0", 37, T::TQ2_0},
    FileType{"MXFP4_MOE", 38, T::MXFP4},
};

enum class Category { TokenEmbd, AttnQ, AttnV, AttnK, AttnQkv, AttnKvB, AttnOutput, FfnUp, FfnGate, FfnDown, Output, Other };

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

Category category_of(const std::string& name) {
  if (name == "output.weight") return Category::Output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::TokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::AttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Category::AttnKvB;
  if (contains(name, "attn_v.weight")) return Category::AttnV;
  if (contains(name, "attn_k.weight")) return Category::AttnK;
  if (contains(name, "attn_q.weight")) return Category::AttnQ;
  if (contains(name, "attn_output.weight")) return Category::AttnOutput;
  if (contains(name, "ffn_up")) return Category::FfnUp;
  if (contains(name, "ffn_gate")) return Category::FfnGate;
  if (contains(name, "ffn_down")) return Category::FfnDown;
  return Category::Other;
}

bool is_attn_v_like(Category c) { return c == Category::AttnV || c == Category::AttnQkv || c == Category::AttnKvB; }

// ggml_n_dims: trailing dimensions of size 1 do not count.
int n_dims(const gguf::TensorInfo& t) {
  int n = 1;
  for (size_t i = 1; i < t.shape.size(); ++i)
    if (t.shape[i] > 1) n = static_cast<int>(i) + 1;
  return n;
}

// "blk.N." -> N, else -1 (llama's weight_name_comparer uses sscanf the same way).
int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

struct State {
  const Hparams& model;
  const FileType& ft;
  const PlanOptions& opts;
  bool tied_embeddings = true;  // until an output.weight is seen
  int n_attention_wv = 0, i_attention_wv = 0;
  int n_ffn_down = 0, n_ffn_gate = 0, n_ffn_up = 0, i_ffn_down = 0, i_ffn_gate = 0, i_ffn_up = 0;
};

bool ftype_is(const State& s, std::string_view n) { return s.ft.name == n; }

bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// Layer index for the ffn rules: a running counter, except in MoE models,
// whose expert tensors are not consecutive, where it comes from the name.
int ffn_layer(const State& s, int counter, const std::string& name) {
  if (s.model.n_expert > 1) {
    const int layer = layer_of(name);
    if (layer < 0 || layer >= static_cast<int>(s.model.n_layer))
      throw Error(ErrorKind::Format, "cannot tell the layer of tensor '" + name + "'");
    return layer;
  }
  return counter;
}

// llama_tensor_get_type_impl: the per-file-type mixture.
T mixture_type(State& s, T t, const gguf::TensorInfo& info, Category cat) {
  const std::string& name = info.name;
  const bool falcon = s.model.arch == "falcon";
  const uint32_t gqa = s.model.n_gqa(), n_expert = s.model.n_expert;
  const uint32_t block = type_info(t).block_elems;

  if (cat == Category::Output || (s.tied_embeddings && cat == Category::TokenEmbd)) {
    if (s.opts.output_tensor_type) return *s.opts.output_tensor_type;
    if (ftype_is(s, "MXFP4_MOE") || falcon || info.shape[0] % block != 0) return T::Q8_0;
    if (t != T::Q8_0) return T::Q6_K;
    return t;
  }
  if (ftype_is(s, "MXFP4_MOE"))  // expert tensors (3-D) get MXFP4, everything else Q8_0
    return info.shape.size() > 2 && info.shape[2] > 1 ? T::MXFP4 : T::Q8_0;
  if (cat == Category::TokenEmbd) {
    if (s.opts.token_embedding_type) return *s.opts.token_embedding_type;
    if (ftype_is(s, "TQ1_0") || ftype_is(s, "TQ2_0")) return T::Q4_K;
    return t;
  }
  if (is_attn_v_like(cat)) {
    const int i = s.i_attention_wv++;
    if (ftype_is(s, "Q2_K")) t = gqa >= 4 ? T::Q4_K : T::Q3_K;
    else if (ftype_is(s, "Q3_K_M")) t = i < 2 ? T::Q5_K : T::Q4_K;
    else if (ftype_is(s, "Q3_K_L")) t = T::Q5_K;
    else if ((ftype_is(s, "IQ4_NL") || ftype_is(s, "IQ4_XS")) && gqa >= 4) t = T::Q5_K;
    else if ((ftype_is(s, "Q4_K_M") || ftype_is(s, "Q5_K_M")) && use_more_bits(i, s.n_attention_wv)) t = T::Q6_K;
    else if (ftype_is(s, "Q4_K_S") && i < 4) t = T::Q5_K;
    if (s.model.is_70b() && (t == T::Q3_K || t == T::Q4_K)) t = T::Q5_K;
    if (n_expert == 8) t = T::Q8_0;
    return t;
  }
  if (cat == Category::AttnK) return n_expert == 8 ? T::Q8_0 : t;
  if (cat == Category::AttnQ) return t;
  if (cat == Category::FfnDown) {
    const int i_layer = ffn_layer(s, s.i_ffn_down, name), n_layer = s.n_ffn_down;
    ++s.i_ffn_down;
    if (ftype_is(s, "Q2_K")) return T::Q3_K;
    if (ftype_is(s, "Q3_K_M"))
      return i_layer < n_layer / 16 ? T::Q5_K : !falcon || use_more_bits(i_layer, n_layer) ? T::Q4_K : T::Q3_K;
    if (ftype_is(s, "Q3_K_L")) return falcon ? T::Q4_K : T::Q5_K;
    if (ftype_is(s, "Q4_K_M")) {
      if (falcon) return i_layer < n_layer / 16 ? T::Q6_K : use_more_bits(i_layer, n_layer) ? T::Q5_K : T::Q4_K;
      return use_more_bits(i_layer, n_layer) ? T::Q6_K : t;
    }
    if (i_layer < n_layer / 8 && (ftype_is(s, "IQ4_NL") || ftype_is(s, "IQ4_XS")) && !s.opts.has_imatrix) return T::Q5_K;
    if (ftype_is(s, "Q5_K_M")) return use_more_bits(i_layer, n_layer) ? T::Q6_K : t;
    if (ftype_is(s, "Q4_K_S") && !falcon && i_layer < n_layer / 8) return T::Q5_K;
    if ((ftype_is(s, "Q4_0") || ftype_is(s, "Q5_0")) && s.opts.has_imatrix && i_layer < n_layer / 8)
      return ftype_is(s, "Q4_0") ? T::Q4_1 : T::Q5_1;
    return t;
  }
  if (cat == Category::AttnOutput) {
    if (!falcon) {
      if (n_expert == 8) {
        for (auto n : {"Q2_K", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M", "IQ4_XS"})
          if (ftype_is(s, n)) return T::Q5_K;
        return t;
      }
      if (ftype_is(s, "Q2_K")) return T::Q3_K;
      if (ftype_is(s, "Q3_K_M")) return T::Q4_K;
      if (ftype_is(s, "Q3_K_L")) return T::Q5_K;
      return t;
    }
    return ftype_is(s, "Q3_K_L") ? T::Q4_K : t;
  }
  if (cat == Category::AttnQkv) {
    if (ftype_is(s, "Q3_K_M") || ftype_is(s, "Q3_K_L")) return T::Q4_K;
    if (ftype_is(s, "Q4_K_M")) return T::Q5_K;
    if (ftype_is(s, "Q5_K_M")) return T::Q6_K;
    return t;
  }
  if (cat == Category::FfnGate) ++s.i_ffn_gate;
  if (cat == Category::FfnUp) ++s.i_ffn_up;
  return t;
}

// tensor_type_fallback: a row length the chosen type's block does not divide.
T fallback_type(const gguf::TensorInfo& info, T t, bool* fell_back) {
  const uint64_t ncols = info.shape[0];
  if (ncols % type_info(t).block_elems == 0) return t;
  *fell_back = true;
  T r;
  switch (t) {
    case T::IQ1_S: case T::IQ1_M: case T::IQ2_XXS: case T::IQ2_XS: case T::IQ2_S:
    case T::IQ3_XXS: case T::IQ3_S: case T::IQ4_XS: r = T::IQ4_NL; break;
    case T::Q2_0: case T::Q2_K: case T::Q3_K: case T::TQ1_0: case T::TQ2_0: r = T::Q4_0; break;
    case T::Q4_K: r = T::Q5_0; break;
    case T::Q5_K: r = T::Q5_1; break;
    case T::Q6_K: r = T::Q8_0; break;
    default:
      throw Error(ErrorKind::Unsupported, "tensor '" + info.name + "': row length " + std::to_string(ncols) +
                                              " is not a multiple of the " + std::string(type_name(t)) +
                                              " block and no fallback type is defined");
  }
  // Still incompatible (row length not a multiple of 32): F16, as llama.cpp does.
  return ncols % type_info(r).block_elems == 0 ? r : T::F16;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::span<const FileType> file_types() { return kFileTypes; }

const FileType* find_file_type(std::string_view name) {
  for (const auto& f : kFileTypes)
    if (iequals(f.name, name)) return &f;
  return nullptr;
}

const FileType* file_type_for_tensor_type(TensorType t) {
  switch (t) {
    case T::Q3_K: return find_file_type("Q3_K_S");
    case T::Q4_K: return find_file_type("Q4_K_S");
    case T::Q5_K: return find_file_type("Q5_K_S");
    default:
      for (const auto& f : kFileTypes)
        if (f.default_type == t) return &f;
      return nullptr;
  }
}

const FileType& resolve_type_name(const std::string& name, PlanOptions& plan) {
  if (const FileType* ft = find_file_type(name)) return *ft;
  if (auto t = type_from_name(name)) {
    if (!quant::can_quantize(*t)) throw Error(ErrorKind::Unsupported, "cannot quantize to " + name + " yet");
    if (const FileType* ft = file_type_for_tensor_type(*t)) {
      plan.pure = true;
      return *ft;
    }
  }
  std::string known;
  for (const auto& f : kFileTypes) known += (known.empty() ? "" : ", ") + std::string(f.name);
  throw Error(ErrorKind::Usage, "unknown quantization type '" + name + "'; file types: " + known +
                                    " (or a tensor type such as Q4_K)");
}

bool tensor_allows_quantization(const gguf::TensorInfo& t, const std::string& arch) {
  (void)arch;
  if (n_dims(t) < 2) return false;
  const std::string& name = t.name;
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  static constexpr std::string_view kNever[] = {
      "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
      "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
      "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
      "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight",
      "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
      "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd",
      "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
      "mm.a.code_embd"};
  for (auto part : kNever)
    if (contains(name, part)) return false;
  // Positional embeddings and BERT token types stay as they are.
  return name != "position_embd.weight" && name != "token_types.weight";
}

std::vector<PlannedTensor> plan(const Hparams& model, const std::vector<gguf::TensorInfo>& tensors,
                                const FileType& ft, const PlanOptions& opts) {
  // Output order: llama's weight_name_comparer (layer, then name; non-layer first).
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
    if (la != lb) return la < lb;
    return tensors[a].name < tensors[b].name;
  });

  std::vector<std::pair<std::regex, T>> overrides;
  for (const auto& [pattern, type] : opts.tensor_type_overrides) {
    try {
      overrides.emplace_back(std::regex(pattern), type);
    } catch (const std::regex_error& e) {
      throw Error(ErrorKind::Usage, "--tensor-type: invalid regular expression '" + pattern + "': " + e.what());
    }
  }

  State s{model, ft, opts};
  for (const auto& t : tensors) {
    const Category c = category_of(t.name);
    if (is_attn_v_like(c)) ++s.n_attention_wv;
    if (c == Category::Output) s.tied_embeddings = false;
  }
  s.n_ffn_down = s.n_ffn_gate = s.n_ffn_up = static_cast<int>(model.n_layer);

  const bool default_quantized = type_info(ft.default_type).quantized;
  std::vector<PlannedTensor> out;
  for (size_t idx : order) {
    const auto& t = tensors[idx];
    PlannedTensor p{idx, t.type, t.type};
    if (tensor_allows_quantization(t, model.arch)) {
      const Category c = category_of(t.name);
      if (opts.token_embedding_type && c == Category::TokenEmbd) p.to = *opts.token_embedding_type;
      else if (opts.output_tensor_type && c == Category::Output) p.to = *opts.output_tensor_type;
      else {
        T type = ft.default_type;
        if (default_quantized) {
          bool manual = false;
          for (const auto& [re, ot] : overrides)
            if (std::regex_search(t.name, re)) {
              type = ot;
              manual = true;
              break;
            }
          if (!manual && !opts.pure) type = mixture_type(s, type, t, c);
          type = fallback_type(t, type, &p.fallback);
        }
        p.to = type;
      }
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace qkv::quant
