// Importance matrices as llama.cpp's llama-imatrix writes them: per tensor,
// one weight per input column (per expert for 3-D expert tensors).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "qkv/model.h"
#include "qkv/session.h"

namespace qkv::quant {

struct ImportanceMatrix {
  // tensor name (e.g. "blk.0.ffn_down.weight") -> n_per_row * n_experts weights
  std::unordered_map<std::string, std::vector<float>> weights;
  std::vector<std::string> datasets;
  const std::vector<float>* find(const std::string& tensor) const;
};

// Reads the GGUF format ("<tensor>.in_sum2" and "<tensor>.counts" pairs; the
// weight is in_sum2 / count, 1 where a matrix was never used) or the legacy
// binary .dat format. The format is decided from the file's bytes. Non-finite
// weights are refused.
ImportanceMatrix load_imatrix(const std::string& path);

// What llama-imatrix accumulates: per weight matrix, the sum over the tokens
// it was applied to of each input column's squared activation, and the count
// of those tokens.
struct ImatrixSums {
  struct Entry {
    std::vector<double> sum2;  // one per input column
    int64_t count = 0;         // tokens
  };
  std::map<std::string, Entry> tensors;  // by name: the file lists them in this order, as llama-imatrix does
  std::vector<std::string> datasets;     // the text files it came from
  uint32_t chunks = 0, chunk_size = 0;
};

// Writes llama.cpp's GGUF imatrix format ("<name>.in_sum2" [cols] and
// "<name>.counts" [1], F32; general.type "imatrix", imatrix.datasets,
// imatrix.chunk_count, imatrix.chunk_size), atomically.
void save_imatrix(const ImatrixSums& sums, const std::string& path);

}  // namespace qkv::quant

namespace qkv {

struct ImatrixOptions {
  int n_ctx = 512;        // tokens per chunk; each chunk is evaluated from scratch
  int threads = 0;
  int max_chunks = 0;     // <= 0: all
  int32_t bos = -1;       // >= 0: the first token of each chunk is replaced by it
  bool process_output = false;  // also output.weight (llama-imatrix --process-output)
  bool perplexity = true;       // score each chunk's second half on the way (all logits are computed)
  AttentionPrecision precision = AttentionPrecision::LlamaCpp;
  std::function<void(int chunk, int n_chunks, double ppl)> on_chunk;  // progress; ppl 0 without perplexity
};

// Runs the model over `tokens` in chunks of n_ctx and accumulates, for every
// matrix "blk.*" (and output.weight when asked) that a product reads in a
// batch of at least 16 tokens, what llama-imatrix does. Throws (Usage) for a
// text shorter than 2 * n_ctx tokens, as llama-imatrix does.
quant::ImatrixSums collect_imatrix(std::shared_ptr<const Model> model, const std::vector<int32_t>& tokens,
                                   const ImatrixOptions& options);

}  // namespace qkv
