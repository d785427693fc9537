#include "train/fixtures.h"

#include <fstream>

namespace qkv::test {

train::Shape tiny_shape(int vocab, int ctx) {
  train::Shape s;
  s.vocab = vocab, s.dim = 32, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.ffn = 64, s.ctx = ctx;
  return s;
}

void randomize(train::Transformer& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& t : m.tensors())
    for (float& x : m.param(t)) x = t.rows == 1 ? 1.0f + 0.2f * normal(rng) : 0.4f * normal(rng);
}

train::Batch random_batch(const train::Shape& s, int B, int T, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> id(0, s.vocab - 1);
  train::Batch b{B, T, std::vector<int32_t>(size_t(B) * T), std::vector<int32_t>(size_t(B) * T)};
  for (auto& x : b.tokens) x = id(rng);
  for (auto& x : b.targets) x = id(rng);
  return b;
}

void write_corpus(const std::filesystem::path& path, size_t bytes, uint32_t seed) {
  static const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to",
                                "see", "big", "red", "sun", "it", "was", "warm", "day", "in", "park"};
  std::mt19937 rng(seed);
  std::string text;
  while (text.size() < bytes) {
    text += words[rng() % 20];
    text += rng() % 9 == 0 ? ".\n" : " ";
  }
  text.resize(bytes);
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace qkv::test
