// Architectures as data: for each supported Hugging Face architecture, the
// GGUF architecture name and a table mapping HF tensor names (with a {bid}
// placeholder for the block number) to llama.cpp's GGUF names, plus the
// transform each tensor needs on the way.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qkv::convert {

enum class Transform {
  None,
  PermuteQ,   // llama's Q rows reordered for ggml's adjacent-pair RoPE (n_head groups)
  PermuteK,   // the same for K (n_head_kv groups)
  Transpose,  // GPT-2's Conv1D stores [in, out]; GGUF wants [out, in] rows
};

struct TensorRule {
  std::string_view hf;    // e.g. "model.layers.{bid}.self_attn.q_proj.weight"
  std::string_view gguf;  // e.g. "blk.{bid}.attn_q.weight"
  Transform transform = Transform::None;
};

struct ArchSpec {
  std::string_view hf_arch;    // config.json "architectures"[0], e.g. "LlamaForCausalLM"
  std::string_view gguf_arch;  // general.architecture, e.g. "llama"
  std::vector<TensorRule> rules;
  std::vector<std::string_view> skip;  // HF name fragments that are not weights (rotary buffers ...)
};

// nullptr when unsupported.
const ArchSpec* find_arch(std::string_view hf_arch);
// "LlamaForCausalLM, MistralForCausalLM, ..." for error messages.
std::string supported_archs();

// The GGUF name and transform for an HF tensor; nullopt when it matches no
// rule. `skipped` is set when the name is a known non-weight to drop.
struct Mapped {
  std::string name;
  Transform transform;
};
std::optional<Mapped> map_tensor_name(const ArchSpec& a, const std::string& hf_name, bool* skipped);

// The way back, for GGUF -> Hugging Face: the HF name of a GGUF tensor and
// the transform that was applied on the way in (undo it with
// undo_transform); nullopt when no rule produces that name.
std::optional<Mapped> map_gguf_name(const ArchSpec& a, const std::string& gguf_name);
// The HF architecture written for a GGUF general.architecture (the first
// table entry that produces it: "llama" -> LlamaForCausalLM); nullptr if none.
const ArchSpec* find_arch_for_gguf(std::string_view gguf_arch);

}  // namespace qkv::convert
