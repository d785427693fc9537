// The pipeline's source implementations (qkv/pipeline.h declares Source).
#pragma once

#include <memory>
#include <string>

#include "qkv/pipeline.h"

namespace qkv::pipeline {

// A Hugging Face folder, or a safetensors / torch checkpoint with
// config.json beside it: tensors renamed to GGUF's names and laid out as
// llama.cpp's converter lays them out, metadata built from config.json and
// the tokenizer files.
std::unique_ptr<Source> open_hf_source(const std::string& path, const std::string& name);

}  // namespace qkv::pipeline
