// Numeric building blocks of the forward pass. All activations are float32;
// weights are read in their stored type (see matmul).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "qkv/model.h"
#include "runtime/vec_dot.h"

namespace qkv::ops {

float dot(const float* a, const float* b, int64_t n);

// How many of `threads` a job of `work` multiply-adds deserves.
int threads_for(int64_t work, int threads);

// The input of one or more matrix products: T tokens of `cols` floats, and
// their quantized forms (runtime/vec_dot.h), each made once, on first use,
// and shared by every product that reads this input (q, k and v; gate and up).
class MatmulInput {
 public:
  MatmulInput(const float* x, int64_t T, int64_t cols, int threads) : x_(x), T_(T), cols_(cols), threads_(threads) {}
  const float* floats() const { return x_; }
  int64_t tokens() const { return T_; }
  int64_t cols() const { return cols_; }
  // The tokens in activation format `act` (act_type_for a weight type), row_bytes apart.
  const uint8_t* quantized(ActType act, size_t* row_bytes);

 private:
  const float* x_;
  int64_t T_, cols_;
  int threads_;
  std::vector<uint8_t> formats_[static_cast<int>(ActType::Q8_K) + 1];  // indexed by ActType
};

// Splits a loop over T tokens whose bodies cost `work_per_token` multiply-adds.
void for_tokens(int64_t T, int64_t work_per_token, int threads, const std::function<void(int64_t)>& body);

// y[t * w.rows + r] = dot(row r of w, x[t * w.cols ...]) for t in [0, T).
// For a type with a kernel in runtime/vec_dot.h (F16, BF16, the legacy,
// K- and IQ4 quants), each token's x is quantized once to the type's
// activation format and each output is vec_dot of a stored row with it, as in
// llama.cpp; F32 rows are dotted in float, and other types are dequantized
// tile by tile (a tile is reused for all T tokens). Rows are split over threads.
void matmul(const Weight& w, MatmulInput& x, float* y, int threads);
void matmul(const Weight& w, const float* x, int64_t T, float* y, int threads);

// Row `row` of w (e.g. a token's embedding) as floats.
void get_row(const Weight& w, uint64_t row, float* out);

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);
void layer_norm(const float* x, const float* weight, const float* bias, int64_t n, float eps, float* out);
// In place, over n values: max-subtracted, accumulated in double for stability.
void softmax(float* x, int64_t n);
// log(sum_i exp(x_i)) over n >= 1 values, max-subtracted, in double: log p(i) = x_i - log_sum_exp.
double log_sum_exp(const float* x, int64_t n);
float silu(float x);
float gelu(float x);  // tanh approximation, as GPT-2 and ggml use

// Rotates `n_heads` heads of `head_dim` values at position pos; only the first
// n_rot dimensions of each head rotate. freq_factors (n_rot/2 values) or null.
void rope(float* x, int n_heads, int head_dim, int n_rot, int64_t pos, float base, float scale, RopeType type,
          const float* freq_factors);

}  // namespace qkv::ops
