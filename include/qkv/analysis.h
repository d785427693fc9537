// What a model's weights look like and what each quantization type would do
// to them (`qkv analyze`): per-tensor statistics, the entropy of the 16-bit
// values beside what the .qkv codecs reach, the error of every standard GGUF
// type, per-layer sensitivity, and the model's size-versus-error frontier with
// llama.cpp's recipes on it. Reports: a terminal table, JSON and one
// self-contained HTML page with SVG plots.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qkv/codec.h"
#include "qkv/quant_error.h"
#include "qkv/types.h"

namespace qkv::analysis {

// ---- statistics of one tensor's values (stats.cpp) --------------------------

// Everything in double precision. NaN and infinities are counted and left out
// of every other figure.
struct Stats {
  uint64_t count = 0;           // finite values
  uint64_t nonfinite = 0;       // NaN and +-inf
  uint64_t zeros = 0;           // exact zeros (+0 and -0)
  uint64_t beyond_6_sigma = 0;  // |w - mean| > 6 * stddev
  double mean = 0;
  double stddev = 0;            // population standard deviation
  double kurtosis = 0;          // E[(w - mean)^4] / stddev^4: 3 for a Gaussian, 1.8 for a uniform
  double max_abs = 0;           // max |w|
  double max_abs_over_std() const { return stddev > 0 ? max_abs / stddev : 0; }
  double zero_fraction() const { return count ? double(zeros) / double(count) : 0; }
  double beyond_6_sigma_fraction() const { return count ? double(beyond_6_sigma) / double(count) : 0; }
};

// Two passes (mean, then central moments) over fixed-size pieces whose sums
// are added in order, so the result does not depend on `threads`.
Stats compute_stats(std::span<const float> w, int threads = 1);

// Counts of (w - mean) / stddev in kBins equal bins over [-kRange, kRange),
// plus what falls below and above. Standardising lets the tensors of one
// family (every layer's attn_q ...) share one histogram whatever their scale.
struct Histogram {
  static constexpr int kBins = 96;
  static constexpr double kRange = 8;
  std::vector<uint64_t> bins = std::vector<uint64_t>(kBins, 0);
  uint64_t below = 0, above = 0;
  uint64_t total() const;
  void add(const Histogram& other);
  static double bin_low(int i) { return -kRange + 2 * kRange * i / kBins; }
};
Histogram standardized_histogram(std::span<const float> w, const Stats& s, int threads = 1);

// ---- lossless coding (lossless.cpp) -----------------------------------------

// Order-0 empirical entropy in bits per symbol of a table of symbol counts.
double entropy_bits(std::span<const uint64_t> counts);

// What the .qkv codecs make of some bytes: cut into chunks as `qkv compress`
// cuts a tensor (4 MiB of whole blocks), each coded by its smallest codec.
struct CodecSize {
  uint64_t bytes_in = 0, bytes_out = 0;
  codec::CodecId main_codec = codec::CodecId::Raw;  // the codec that coded the most input bytes
};
CodecSize codec_size(std::span<const uint8_t> bytes, TensorType type, int threads = 1);

// The tensor as 16-bit values: the stored ones for F16 / BF16, the F16
// rounding (llama.cpp's converter's default) for F32. All figures in bits per weight.
struct Lossless {
  TensorType form = TensorType::F16;  // F16 or BF16
  bool converted = false;             // the stored type was not `form`
  double entropy16 = 0;               // order-0 entropy of the 16-bit values: the bound of a per-value code
  double entropy_high = 0;            // of their high byte (sign and exponent; F16 adds 2 mantissa bits)
  double entropy_low = 0;             // of their low byte
  double codec_bits = 0;              // what the .qkv codecs reach on the 16-bit values
  codec::CodecId codec = codec::CodecId::Raw;
};
// `values`: the 16-bit bit patterns of type `form`.
Lossless lossless_16bit(std::span<const uint16_t> values, TensorType form, bool converted, int threads = 1,
                        bool run_codecs = true);

// ---- quantization error (errors.cpp) ----------------------------------------

// The round-trip error of each type (sample_rows, QuantError, quant_error)
// lives in qkv/quant_error.h, shared with the adaptive planner.
using quant::QuantError;
using quant::quant_error;
using quant::sample_rows;

// ---- the size / error frontier (pareto.cpp) -------------------------------

// One way to store one tensor.
struct Option {
  uint64_t bytes = 0;
  double error = 0;  // what it adds to the model's error
};

// The choices of one option per tensor that no other choice beats on both
// size and error, smallest first. Two searches feed it: dynamic programming
// over the total size, counted in `steps` equal units of the largest total
// (each option's size rounded up to a unit; exact when the unit is one byte),
// and greedy bit allocation -- every tensor at its smallest option, then the
// upgrade with the most error removed per byte, again and again -- whose
// every state is a vertex of the lower convex hull of all choices, an exact
// optimum at any scale. Each point keeps its choice, with exact size and error.
struct Frontier {
  struct Point {
    uint64_t bytes = 0;
    double error = 0;            // the options' errors added in tensor order
    std::vector<uint8_t> choice;  // choice[t]: the option of tensor t
  };
  std::vector<Point> points;  // bytes strictly increasing, error strictly decreasing
  // The last point no larger than `bytes`; nullopt when even points[0] is larger.
  std::optional<size_t> at_most(uint64_t bytes) const;
};
// options[t]: tensor t's options (1 to 255 each).
Frontier compute_frontier(const std::vector<std::vector<Option>>& options, uint64_t steps = 1u << 16);

// ---- the whole model (model.cpp) --------------------------------------------

struct AnalyzeOptions {
  std::string imatrix_path;          // llama.cpp imatrix (GGUF or legacy .dat); empty: none
  // The tables' and the frontier's types; empty: every type QKV Core writes but F32.
  // The recipes' and the heat map's types are measured as well.
  std::vector<TensorType> types;
  uint64_t sample = 1u << 20;        // weights per tensor for the errors (whole rows); 0: every row
  TensorType sensitivity_type = TensorType::Q3_K;  // the type of the per-layer heat map
  bool codecs = true;                // run the .qkv codecs (the slowest part)
  int threads = 0;                   // <= 0: all cores
  bool progress = true;
};

struct TensorAnalysis {
  std::string name;
  std::string family;  // the name without "blk.N." and ".weight": attn_q, ffn_down, token_embd ...
  int layer = -1;      // N of "blk.N.", -1 outside the layers
  std::vector<uint64_t> shape;
  TensorType type = TensorType::F32;
  uint64_t params = 0, bytes = 0;
  bool readable = false;     // its type can be read into floats (else nothing below is measured)
  bool quantizable = false;  // llama-quantize would quantize it (2-D weights, not norms ...)
  bool imatrix = false;      // the importance matrix has weights for it
  uint64_t rows = 0, sampled_rows = 0;
  Stats stats;
  Histogram histogram;
  std::optional<Lossless> lossless;     // for F32, F16 and BF16 tensors
  std::optional<CodecSize> codec_stored;  // the .qkv codecs on the stored bytes
  std::vector<QuantError> errors;       // per measured type whose block divides the row
  std::optional<TensorType> sensitivity_type;  // the heat map's type for it (after llama.cpp's row fallback)
  const QuantError* error_for(TensorType t) const;
};

struct FamilyHistogram {
  std::string family;
  size_t tensors = 0;
  double min_std = 0, max_std = 0, mean_kurtosis = 0;
  Histogram histogram;
};

// A llama.cpp file type applied to the model (with the same rules as `qkv quantize`).
struct RecipePoint {
  std::string name;  // Q4_K_M ...
  uint64_t bytes = 0;
  double error = 0;                     // the model error measure, below
  std::vector<TensorType> types;        // per tensor, in the model's order
  std::optional<size_t> frontier_point; // the best frontier point no larger than this recipe
};

struct ModelAnalysis {
  std::string path, arch, imatrix_path;
  size_t imatrix_matched = 0;  // tensors the imatrix covers
  uint64_t params = 0, bytes = 0;  // tensor data only (no header)
  uint64_t sample = 0;
  int threads = 1;
  double seconds = 0;
  std::vector<TensorType> types;   // AnalyzeOptions::types, resolved
  TensorType sensitivity_type = TensorType::Q3_K;
  std::vector<TensorAnalysis> tensors;
  std::vector<FamilyHistogram> families;
  // The model error of a choice of types: sum over tensors of params * rel_error,
  // divided by the model's parameter count (tensors kept as they are add 0).
  // options[t] are tensor t's candidates: the frontier's Point::choice indexes them.
  struct Candidate {
    TensorType type;
    uint64_t bytes;
    double error;  // params * rel_error / model params
  };
  std::vector<std::vector<Candidate>> options;
  Frontier frontier;
  std::vector<RecipePoint> recipes;
  std::vector<std::string> refused_recipes;  // "Q4_0: <why>": llama-quantize would refuse this model
  double bits_per_weight(uint64_t b) const { return params ? 8.0 * double(b) / double(params) : 0; }
};

// Reads a GGUF (or a .qkv holding one) and measures everything above.
// Throws qkv::Error naming the file for a missing or corrupt model or imatrix.
ModelAnalysis analyze_model(const std::string& path, const AnalyzeOptions& opts = {});

// The family of a tensor name and its layer ("blk.3.attn_q.weight" -> "attn_q", 3).
std::string tensor_family(const std::string& name, int* layer);

// ---- reports (report_text.cpp, report_json.cpp, report_html.cpp) ------------

std::string report_text(const ModelAnalysis& a);
std::string report_json(const ModelAnalysis& a);
// One self-contained page (inline SVG and CSS, no script, nothing fetched).
std::string report_html(const ModelAnalysis& a);

}  // namespace qkv::analysis
