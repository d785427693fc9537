// A deliberately naive, separately written float64 forward pass for
// llama-family models with F32 weights: no KV cache, no threads, no tiles.
// Tests hold the real engine to it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qkv::test {

// Logits (n_vocab doubles) after the last of `tokens`.
std::vector<double> reference_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens);

}  // namespace qkv::test
