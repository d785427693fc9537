// Choosing the next token from logits: llama.cpp's sampler chain (penalties,
// top-k, top-p, min-p, temperature, then a draw), reproducible from a seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace qkv {

struct SamplerParams {
  float temperature = 0.8f;  // <= 0: greedy (argmax)
  int top_k = 40;            // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;   // 1: off; divides positive / multiplies negative logits of recent tokens
  int repeat_last_n = 64;        // how many recent tokens the penalties look at
  float presence_penalty = 0.0f;   // subtracted once from a recent token's logit
  float frequency_penalty = 0.0f;  // subtracted per occurrence
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  explicit Sampler(SamplerParams p);
  // Picks a token; does not record it (call accept()).
  int32_t sample(std::span<const float> logits);
  // Records a token (prompt or generated) for the repetition penalties.
  void accept(int32_t token);
  const SamplerParams& params() const { return p_; }

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
  std::vector<int32_t> recent_;
  struct Candidate {
    int32_t id;
    float logit;
  };
  std::vector<Candidate> cand_;
};

}  // namespace qkv
