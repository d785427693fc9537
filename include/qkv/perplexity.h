// Perplexity as llama-perplexity measures it: the text's tokens cut into
// windows of n_ctx, each window evaluated from scratch with its first token
// replaced by BOS, and only the second half of each window scored. With a
// base model, also the KL divergence of the model from the base (like
// llama-perplexity --kl-divergence).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "qkv/model.h"

namespace qkv {

struct PerplexityOptions {
  int n_ctx = 512;
  int threads = 0;
  int max_chunks = 0;        // <= 0: all
  int32_t bos = -1;          // < 0: do not replace the first token of each window
  std::shared_ptr<const Model> base;  // KL-divergence reference (e.g. the F16 original), or null
  std::function<void(int chunk, int n_chunks, double ppl)> on_chunk;  // progress
};

struct PerplexityResult {
  int chunks = 0;
  int64_t scored = 0;  // tokens scored
  double ppl = 0, ppl_err = 0;
  // With a base model:
  double base_ppl = 0, mean_kld = 0, kld_err = 0, top1_agreement = 0;
  double ppl_ratio() const { return base_ppl > 0 ? ppl / base_ppl : 0; }
};

// Throws (Usage) when the text has fewer than 2 * n_ctx tokens.
PerplexityResult perplexity(std::shared_ptr<const Model> model, const std::vector<int32_t>& tokens,
                            const PerplexityOptions& opts);

}  // namespace qkv
