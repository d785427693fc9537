// A deliberately naive, separately written float64 forward pass for
// llama-family models with F32 weights: no KV cache, no threads, no tiles.
// Tests hold the real engine to it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qkv::test {

// Per "blk.*" matrix: the sum over tokens of each input column's square.
using ReferenceSums = std::map<std::string, std::vector<double>>;

// Logits (n_vocab doubles) after the last of `tokens`. With `sums`, also adds
// every layer matrix's squared inputs (what an imatrix collects) to it.
std::vector<double> reference_logits(const std::string& gguf_path, const std::vector<int32_t>& tokens,
                                     ReferenceSums* sums = nullptr);

}  // namespace qkv::test
