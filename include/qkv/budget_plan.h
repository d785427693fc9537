// The adaptive planner behind `qkv quantize --target-size / --target-bpw /
// --target-vram`: for a size budget, each tensor's standard GGUF type chosen
// to minimise the total predicted error, instead of llama.cpp's fixed rules.
//
// Predicted error of tensor W quantized as type t: sum over its rows r and
// columns j of h_j (W_rj - Q_t(W)_rj)^2, where h_j is the importance matrix's
// mean squared input activation of column j (1 without one). That is the
// expected squared error the quantization adds to the product's output per
// token (E ||(W - Q(W)) x||^2, with the activations' cross terms dropped), so
// errors add up across tensors. It is measured by quantizing for real (with
// the importance weights, as the output will be), on an evenly spaced sample
// of rows (qkv/quant_error.h), scaled to all rows.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "qkv/gguf.h"
#include "qkv/imatrix.h"
#include "qkv/recipe.h"
#include "qkv/types.h"

namespace qkv::quant {

struct Candidate {
  TensorType type;
  uint64_t bytes;  // in the file (aligned)
  double error;    // predicted, as above
};

// One quantizable tensor's options: its Pareto frontier (each candidate
// smaller than the previous and with more error), largest first.
struct TensorOptions {
  size_t input_index;
  std::vector<Candidate> frontier;
};

// The measured KL divergence of the model's output when tensor `name` holds
// `data` (its bytes as `type`), all else unchanged: qkv/sensitivity.h.
using SensitivityFn = std::function<double(const std::string& name, TensorType type, std::span<const uint8_t> data)>;

struct MeasureOptions {
  const ImportanceMatrix* imatrix = nullptr;
  int64_t sample_rows = 256;  // rows measured per tensor (all when fewer)
  int threads = 0;
  // When set, each tensor's errors are calibrated to KL divergence: quantized
  // whole to its smallest candidate, its measured KLD over that candidate's
  // predicted error scales all of its candidates. The errors then add up to
  // a predicted KLD, and the output's most sensitive tensors get the bytes.
  SensitivityFn sensitivity;
};

// The types whose blocks fit a row of n_per_row: the K-quants, the legacy
// types, IQ4_NL / IQ4_XS and Q8_0, and the 16-bit floats.
std::vector<TensorType> candidate_types(uint64_t n_per_row);

// The error of quantizing `rows` x `n_per_row` floats as `type` (sampled rows, scaled).
double predicted_error(TensorType type, const float* w, int64_t rows, int64_t n_per_row, const float* imatrix,
                       int64_t sample_rows, int threads);

// Tensor `index`'s values as float32, as they will be quantized (the pipeline
// reads them from any source, after its transforms).
using TensorReader = std::function<void(size_t index, std::vector<float>& out)>;

// Every candidate of every tensor that `quantizable` marks, measured and
// reduced to its frontier; `progress` (may be null) gets each tensor's bytes.
std::vector<TensorOptions> measure_tensors(const std::vector<gguf::TensorInfo>& tensors, uint64_t alignment,
                                           const TensorReader& read, const std::vector<bool>& quantizable,
                                           const MeasureOptions& opts, const std::function<void(uint64_t)>& progress);

// One type per tensor (a frontier index) whose total bytes are at most
// `budget`, with the least total error the Lagrangian relaxation finds,
// then upgraded greedily (best error saved per byte) while the budget allows.
// Throws (Usage) when even the smallest choice exceeds the budget, naming the range.
std::vector<size_t> allocate(const std::vector<TensorOptions>& tensors, uint64_t budget);

// What the output must fit in (one of the three).
struct BudgetTarget {
  uint64_t file_bytes = 0;  // --target-size: the whole output file
  double bpw = 0;           // --target-bpw: tensor bytes * 8 / weights, as `qkv quantize` reports it
  uint64_t vram_bytes = 0;  // --target-vram: see vram_overhead
  uint32_t ctx = 4096;      // the context --target-vram keeps room for
  bool active() const { return file_bytes || bpw > 0 || vram_bytes; }
};

// What a GPU runtime needs beside the weights (all of them are counted, though
// llama.cpp keeps token_embd in host memory: the plan errs towards fitting): the fp16 KV cache of
// `ctx` tokens, and compute buffers estimated for a 512-token batch as the
// largest live activations: the logits (512 x n_vocab floats), the layer's
// inputs and FFN intermediates (512 x (4 n_embd + 3 n_ff) floats), and the
// attention scores without flash attention (512 x ctx x n_head floats).
uint64_t vram_overhead(const gguf::Metadata& md, uint32_t ctx);

struct BudgetPlan {
  uint64_t tensor_budget = 0;  // bytes left for the planned tensors
  bool capped = false;         // the budget exceeds the largest plan, which was taken
  double total_error = 0;
  std::vector<double> errors;  // per planned tensor, its predicted error (0 when not planned)
};

// Sets planned[i].to for every tensor `planned` quantizes, unless keep[i]
// (its type was given), to fit `target` with the output's header
// `header_bytes` and the other tensors as planned.
// `tensors` and `md` are the input's; `read` gives a tensor's floats.
BudgetPlan plan_for_budget(const gguf::Metadata& md, const std::vector<gguf::TensorInfo>& tensors,
                           const TensorReader& read, std::vector<PlannedTensor>& planned, const std::vector<bool>& keep,
                           uint64_t header_bytes,
                           const BudgetTarget& target, const MeasureOptions& opts,
                           const std::function<void(uint64_t)>& progress);

}  // namespace qkv::quant
