// config.json -> GGUF hyperparameter metadata, per architecture.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "convert/arch.h"
#include "qkv/gguf.h"
#include "qkv/hparams.h"

namespace qkv::convert {

// What config.json says: the GGUF hyperparameters, and what only the
// conversion needs.
struct HfConfig {
  const ArchSpec* arch = nullptr;
  Hparams gguf;
  bool tied_embeddings = false;
  std::vector<float> rope_freqs;  // Llama-3 rope scaling factors (n_rot/2), written as rope_freqs.weight
};

// Reads config.json (already parsed); `path` names it in errors. Throws
// (Unsupported) for an unknown architecture, listing the supported ones.
HfConfig read_hf_config(const nlohmann::json& config, const std::string& path);

// Adds general.architecture, general.name and the <arch>.* keys llama.cpp reads.
void add_hparams_metadata(const HfConfig& h, const std::string& model_name, gguf::Metadata& md);

}  // namespace qkv::convert
