// The seam between the forward pass (session.cpp) and the hardware that runs
// its heavy work: matrix products over the model's weights and attention over
// the KV cache. Everything else in a layer (norms, RoPE, activations,
// residual adds) is cheap and stays with the forward pass.
//
// The CPU backend (cpu_backend.cpp) runs the ops:: kernels over the mmap'd or
// interleaved weights. A GPU backend implements the same calls with its
// weights and cache in device memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "qkv/model.h"
#include "runtime/attention.h"
#include "runtime/ops.h"

namespace qkv::ops {

// One token's attention in one layer: each of its query heads over positions
// [0, n_keys) of its own sequence's cache. The cache rows start at position 0
// of this layer, kv_stride elements apart, each holding n_head_kv heads.
struct AttentionRow {
  const float* q;  // n_head * head_dim
  float* out;      // n_head * head_dim
  int64_t n_keys;
  const uint16_t *k16, *v16;  // the fp16 cache, or null
  const float *k32, *v32;     // the float32 cache (AttentionPrecision::Exact), or null
  size_t kv_stride;
};

struct AttentionShape {
  int64_t n_head, n_head_kv, head_dim;
  float scale;  // of q . k, usually 1 / sqrt(head_dim)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // y[t * w.rows + r] = row r of w . token t of x (ops::matmul's contract).
  virtual void matmul(const Weight& w, MatmulInput& x, float* y) = 0;
  // Every row's attention, each head of it independent of the others.
  virtual void attention(const AttentionShape& shape, std::span<const AttentionRow> rows) = 0;
  // The threads the backend's host-side work may use (0: all cores).
  virtual int threads() const = 0;

  void matmul(const Weight& w, const float* x, int64_t T, float* y) {
    MatmulInput in(x, T, static_cast<int64_t>(w.cols), threads());
    matmul(w, in, y);
  }
};

// The CPU backend over `threads` threads (0: all cores).
std::shared_ptr<Backend> cpu_backend(int threads);

}  // namespace qkv::ops
