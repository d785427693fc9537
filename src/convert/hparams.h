// config.json -> GGUF hyperparameter metadata, per architecture.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "convert/arch.h"
#include "qkv/gguf.h"

namespace qkv::convert {

struct Hparams {
  const ArchSpec* arch = nullptr;
  uint32_t n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx = 0, n_vocab = 0, head_dim = 0;
  bool tied_embeddings = false;
  std::vector<float> rope_freqs;  // Llama-3 rope scaling factors (n_rot/2), written as rope_freqs.weight
};

// Reads config.json (already parsed); `path` names it in errors. Throws
// (Unsupported) for an unknown architecture, listing the supported ones.
Hparams read_hparams(const nlohmann::json& config, const std::string& path);

// Adds general.architecture, general.name and the <arch>.* keys llama.cpp reads.
void add_hparams_metadata(const Hparams& h, const nlohmann::json& config, const std::string& model_name,
                          gguf::Metadata& md);

}  // namespace qkv::convert
