// Small shared pieces of the trainer's tests: tiny models, random weights
// and batches, a corpus on disk.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "qkv/train.h"

namespace qkv::test {

// A model small enough for a test: 2 layers, grouped-query attention.
train::Shape tiny_shape(int vocab = 259, int ctx = 16);

// Random weights larger than init() gives (std 0.02 leaves the attention
// nearly uniform and the norms near 1), so that every path carries signal.
void randomize(train::Transformer& m, uint32_t seed);

train::Batch random_batch(const train::Shape& s, int B, int T, std::mt19937& rng);

// Writes `bytes` bytes of English-looking text (words from a small list, a
// fixed seed) to path.
void write_corpus(const std::filesystem::path& path, size_t bytes, uint32_t seed = 1);

}  // namespace qkv::test
