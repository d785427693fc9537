// GGUF -> Hugging Face, the files beside the weights: config.json and
// generation_config.json from the GGUF's hyperparameters, and the tokenizer
// files transformers loads for its vocabulary.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "convert/arch.h"
#include "qkv/gguf.h"

namespace qkv::convert {

// config.json as transformers writes it for the architecture; `tied` says
// whether the GGUF has no separate output matrix, torch_dtype names the
// weights' dtype ("float32", "float16", "bfloat16").
nlohmann::json hf_config(const gguf::File& f, const ArchSpec& arch, bool tied, const std::string& torch_dtype);

// Writes the tokenizer of a GGUF vocabulary into `dir`: tokenizer.model (a
// SentencePiece model) for tokenizer.ggml.model "llama", tokenizer.json for
// byte-level BPE ("gpt2"), plus tokenizer_config.json and
// special_tokens_map.json. Returns the file names written; empty, with the
// reason in *why, when the vocabulary is one we cannot describe.
std::vector<std::string> write_hf_tokenizer(const gguf::Metadata& md, const std::filesystem::path& dir,
                                            std::string* why);

// Bytes of a SentencePiece ModelProto (BPE, byte fallback when the vocabulary
// has byte tokens) holding these pieces; types are GGUF's token types, which
// use SentencePiece's numbering.
std::vector<uint8_t> sentencepiece_model_bytes(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                                               const std::vector<int32_t>& types, int32_t unk, int32_t bos, int32_t eos,
                                               int32_t pad, bool add_dummy_prefix);

}  // namespace qkv::convert
