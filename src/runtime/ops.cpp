#include "runtime/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/quant.h"
#include "runtime/repack.h"
#include "runtime/vec_dot.h"

namespace qkv::ops {

float dot(const float* a, const float* b, int64_t n) {
  // Eight independent accumulators of 8 lanes let the compiler use full-width
  // SIMD and hide FMA latency; GCC vector extensions keep it portable.
  typedef float v8 __attribute__((vector_size(32), aligned(4)));
  v8 acc[4] = {};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      v8 va, vb;
      std::memcpy(&va, a + i + 8 * k, sizeof va);
      std::memcpy(&vb, b + i + 8 * k, sizeof vb);
      acc[k] += va * vb;
    }
  v8 s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  float sum = 0;
  for (int k = 0; k < 8; ++k) sum += s[k];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void get_row(const Weight& w, uint64_t row, float* out) {
  quant::dequantize(w.type, w.data + row * w.row_size(), out, 1, static_cast<int64_t>(w.cols), 1);
}

int threads_for(int64_t work, int threads) {
  // Waking a thread costs about as much as ~100k multiply-adds; smaller jobs stay on one thread.
  constexpr int64_t kMinWorkPerThread = 1 << 17;
  return static_cast<int>(std::clamp<int64_t>(work / kMinWorkPerThread, 1, resolve_threads(threads)));
}

void for_tokens(int64_t T, int64_t work_per_token, int threads, const std::function<void(int64_t)>& body) {
  parallel_for(T, threads_for(T * work_per_token, threads), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) body(t);
  });
}

const uint8_t* MatmulInput::quantized(ActType a, size_t* row_bytes) {
  const size_t ab = activation_row_bytes(a, cols_);
  *row_bytes = ab;
  std::vector<uint8_t>& buf = formats_[static_cast<int>(a)];
  if (buf.empty()) {
    buf.resize(static_cast<size_t>(T_) * ab);
    // Quantizing costs a few operations per element; it pays to split a prompt's tokens.
    for_tokens(T_, 8 * cols_, threads_, [&](int64_t t) { quantize_activations(a, x_ + t * cols_, &buf[t * ab], cols_); });
  }
  return buf.data();
}

void matmul(const Weight& w, const float* x, int64_t T, float* y, int threads) {
  MatmulInput in(x, T, static_cast<int64_t>(w.cols), threads);
  matmul(w, in, y, threads);
}

void matmul(const Weight& w, MatmulInput& in, float* y, int threads) {
  const float* x = in.floats();
  const int64_t T = in.tokens();
  const int64_t rows = static_cast<int64_t>(w.rows), cols = static_cast<int64_t>(w.cols);
  if (in.cols() != cols)
    throw Error(ErrorKind::Usage, "matmul: the input has " + std::to_string(in.cols()) + " columns, the weight " +
                                      std::to_string(cols));
  const uint64_t rs = w.row_size();
  constexpr int64_t kTile = 16;
  const ActType act = act_type_for(w.type);
  if (act != ActType::None && act != ActType::F32) {
    // As llama.cpp does: each token's activations are quantized once, then
    // every output is one integer dot product against a weight row as stored.
    const VecDotFn dot_row = vec_dot_kernel(w.type);
    const VecDotVariant* best = vec_dot_best(w.type);
    const VecDotRowsFn dot_rows = best && T > 1 ? best->rows : nullptr;
    const int64_t step = dot_rows ? best->max_tokens : 1;
    size_t ab = 0;
    const uint8_t* acts = in.quantized(act, &ab);
    int64_t first = 0;  // the first plain row
    const bool tiles = best && best->tile;
    if (w.interleaved && !tiles) {
      const int64_t groups = rows / kInterleave;
      parallel_for(groups, threads_for(groups * kInterleave * cols * T, threads), [&](int64_t begin, int64_t end) {
        matmul_interleaved(w, acts, ab, T, y, rows, begin, end);
      });
      first = groups * kInterleave;
      if (first == rows) return;
    }
    parallel_for(rows - first, threads_for((rows - first) * cols * T, threads), [&](int64_t begin, int64_t end) {
      if (tiles) {  // register tiles of rows x tokens
        // A block of rows stays in L2 while every token passes over it, and
        // each tile's tokens stay in L1 across the block's row tiles.
        // Interleaved rows (ranges start at multiples of kTile, so tiles
        // never straddle their end) are read as one stream per tile.
        constexpr int64_t kBlock = 64;
        const int64_t packed = w.interleaved ? rows / kInterleave * kInterleave : 0;
        const size_t chunk = 2 * size_t(best->tile_chunk);
        for (int64_t r0 = begin; r0 < end; r0 += kBlock) {
          const int64_t r1 = std::min(r0 + kBlock, end);
          for (int64_t t = 0; t < T; t += best->tile_tokens) {
            const int nt = static_cast<int>(std::min<int64_t>(best->tile_tokens, T - t));
            for (int64_t r = r0; r < r1; r += best->tile_rows) {
              const int nr = static_cast<int>(std::min<int64_t>(best->tile_rows, r1 - r));
              if (r < packed)
                best->tile(w.interleaved + r * rs, chunk, chunk * size_t(best->tile_rows), acts + t * ab, ab, nr, nt, cols,
                           y + t * rows + r, static_cast<size_t>(rows));
              else
                best->tile(w.data + r * rs, rs, chunk, acts + t * ab, ab, nr, nt, cols, y + t * rows + r,
                           static_cast<size_t>(rows));
            }
          }
        }
        return;
      }
      // A tile of rows stays in L1 while every token passes over it.
      for (int64_t r0 = first + begin; r0 < first + end; r0 += kTile) {
        const int64_t r1 = std::min(r0 + kTile, first + end);
        if (dot_rows) {  // up to `step` tokens per pass over a row
          float out[kMaxDotTokens];
          for (int64_t t = 0; t < T; t += step) {
            const int nt = static_cast<int>(std::min<int64_t>(step, T - t));
            for (int64_t r = r0; r < r1; ++r) {
              dot_rows(w.data + r * rs, acts + t * ab, ab, nt, cols, out);
              for (int k = 0; k < nt; ++k) y[(t + k) * rows + r] = out[k];
            }
          }
          continue;
        }
        for (int64_t t = 0; t < T; ++t)
          for (int64_t r = r0; r < r1; ++r) y[t * rows + r] = dot_row(w.data + r * rs, acts + t * ab, cols);
      }
    }, kTile);
    return;
  }
  // F32 rows are read in place; a type without a kernel is dequantized tile by tile.
  parallel_for(rows, threads_for(rows * cols * T, threads), [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> tile;
    for (int64_t r0 = begin; r0 < end; r0 += kTile) {
      const int64_t nr = std::min(kTile, end - r0);
      const float* wf;
      if (w.type == TensorType::F32) {
        wf = reinterpret_cast<const float*>(w.data + r0 * rs);
      } else {
        tile.resize(static_cast<size_t>(kTile * cols));
        quant::dequantize(w.type, w.data + r0 * rs, tile.data(), nr, cols, 1);
        wf = tile.data();
      }
      for (int64_t t = 0; t < T; ++t)
        for (int64_t r = 0; r < nr; ++r) y[t * rows + r0 + r] = dot(wf + r * cols, x + t * cols, cols);
    }
  }, kTile);
}

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void layer_norm(const float* x, const float* weight, const float* bias, int64_t n, float eps, float* out) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= n;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double scale = 1.0 / std::sqrt(var / n + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>((x[i] - mean) * scale) * weight[i] + (bias ? bias[i] : 0);
}

void softmax(float* x, int64_t n) {
  const float mx = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - mx));
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

double log_sum_exp(const float* x, int64_t n) {
  double mx = x[0], sum = 0;
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, double(x[i]));
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  return mx + std::log(sum);
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

float gelu(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

void rope(float* x, int n_heads, int head_dim, int n_rot, int64_t pos, float base, float scale, RopeType type,
          const float* freq_factors) {
  const double p = static_cast<double>(pos) / scale;
  for (int i = 0; i < n_rot / 2; ++i) {
    double theta = p * std::pow(static_cast<double>(base), -2.0 * i / n_rot);
    if (freq_factors) theta /= freq_factors[i];
    const float c = static_cast<float>(std::cos(theta)), s = static_cast<float>(std::sin(theta));
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      // Normal: adjacent pairs (2i, 2i+1). Neox: the two halves (i, i + n_rot/2).
      const int a = type == RopeType::Normal ? 2 * i : i;
      const int b = type == RopeType::Normal ? 2 * i + 1 : i + n_rot / 2;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace qkv::ops
