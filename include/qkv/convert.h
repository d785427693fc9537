// `qkv convert`: a Hugging Face folder or PyTorch checkpoint to GGUF in one
// streaming pass -- no Python, no 16-bit intermediate file; memory bounded by
// a few tensors.
#pragma once

#include <string>
#include <vector>

#include "qkv/quantize_model.h"

namespace qkv {

struct ConvertOptions {
  std::string type = "F16";  // any tensor type or llama.cpp file type (Q4_K_M ...)
  int threads = 0;
  std::string name;          // general.name (default: the folder's name)
  bool progress = true;
};

struct ConvertReport {
  std::string architecture, file_type;
  size_t tensors = 0, skipped = 0;  // skipped: non-weights such as rotary buffers
  uint64_t elements = 0, bytes_out = 0, file_bytes = 0;
  double seconds = 0;
  double bits_per_weight() const { return elements ? 8.0 * bytes_out / elements : 0; }
};

// src: a HF model folder (config.json + safetensors / pytorch_model.bin,
// sharded or not, + tokenizer files), or a checkpoint file with config.json
// beside it. The format is decided from the bytes. Writes out atomically.
ConvertReport convert_to_gguf(const std::string& src, const std::string& out, const ConvertOptions& opts);

// Weights for PyTorch / transformers. out: "X.safetensors" (the weights
// alone) or a folder (model.safetensors, config.json, generation_config.json
// and the tokenizer files). src: a GGUF (dequantized; tensors renamed and
// un-permuted back to the HF layout, config and tokenizer rebuilt from the
// metadata), or a HF folder / torch checkpoint (re-saved as safetensors, its
// config and tokenizer files copied). opts.type: F32, F16 or BF16.
ConvertReport convert_to_hf(const std::string& src, const std::string& out, const ConvertOptions& opts);
// Whether `out` names a Hugging Face output: ends in ".safetensors" or "/", or is a folder.
bool writes_hf(const std::string& out);

}  // namespace qkv
