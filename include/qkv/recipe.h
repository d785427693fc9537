// llama.cpp's quantization recipes: which type each tensor of a model gets
// under a file type such as Q4_K_M. The rules follow llama-quantize
// (src/llama-quant.cpp, llama_tensor_get_type) so that our files equal its.
#pragma once

#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/gguf.h"
#include "qkv/hparams.h"
#include "qkv/types.h"

namespace qkv::quant {

// A llama.cpp file type (llama_ftype): its name, the value written to
// general.file_type, and the type most tensors get.
struct FileType {
  std::string_view name;
  uint32_t ftype;
  TensorType default_type;
};

std::span<const FileType> file_types();
const FileType* find_file_type(std::string_view name);  // case-insensitive
// The file type recorded when the user asks for a plain tensor type (e.g.
// Q4_K -> Q4_K_S), used together with PlanOptions::pure.
const FileType* file_type_for_tensor_type(TensorType t);


struct PlanOptions {
  std::optional<TensorType> output_tensor_type;    // --output-tensor-type
  std::optional<TensorType> token_embedding_type;  // --token-embedding-type
  // --tensor-type REGEX=TYPE, first match wins (regex searched in the name).
  std::vector<std::pair<std::string, TensorType>> tensor_type_overrides;
  bool pure = false;         // --pure: every quantizable tensor gets the default type
  bool has_imatrix = false;  // some rules differ with an importance matrix
};

// The file type for a user's TYPE argument: a file type name (Q4_K_M), or a
// tensor type (Q4_K), which sets plan.pure. Throws (Usage) listing the valid
// names, (Unsupported) for a type we cannot write.
const FileType& resolve_type_name(const std::string& name, PlanOptions& plan);

struct PlannedTensor {
  size_t input_index;  // index into the input's tensor list
  TensorType from, to;
  bool fallback = false;  // row length forced a different type
  bool quantize() const { return from != to; }
};

// Every tensor of the input in llama-quantize's output order (the rules read
// the architecture, layer, head and expert counts of `model`) (non-layer
// tensors by name first, then by layer number, names sorted within a layer),
// with the type it gets. Throws (Usage) on a bad override regex.
std::vector<PlannedTensor> plan(const Hparams& model, const std::vector<gguf::TensorInfo>& tensors,
                                const FileType& ft, const PlanOptions& opts);

// Would llama-quantize quantize this tensor at all (2-D+ weights, not norms ...)?
bool tensor_allows_quantization(const gguf::TensorInfo& t, const std::string& arch);

}  // namespace qkv::quant
