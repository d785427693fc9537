// The two ends of the model: the token embedding lookup, and the
// cross-entropy loss (or weighted log-probabilities) over the output logits.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "qkv/parallel.h"
#include "train/ops.h"

namespace qkv::train::ops {

void embedding_forward(const int32_t* tokens, const float* table, int64_t N, int64_t C, float* out, int threads) {
  parallel_for(N, threads, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) std::memcpy(out + n * C, table + int64_t(tokens[n]) * C, C * sizeof(float));
  });
}

void embedding_backward(const int32_t* tokens, const float* dout, int64_t N, int64_t C, float* dtable, int threads) {
  // A token may occur many times: split by column, so each row of dtable
  // gathers its tokens' gradients in token order whatever the thread count.
  parallel_for(C, threads, [&](int64_t begin, int64_t end) {
    for (int64_t n = 0; n < N; ++n) {
      float* row = dtable + int64_t(tokens[n]) * C;
      for (int64_t c = begin; c < end; ++c) row[c] += dout[n * C + c];
    }
  });
}

double cross_entropy(float* logits, const int32_t* targets, int64_t N, int64_t V, float grad_scale, int threads) {
  std::vector<double> loss(static_cast<size_t>(N));
  parallel_for(N, threads, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      float* z = logits + n * V;
      // loss = log(sum_v exp(z_v - max)) - (z_target - max)
      const float mx = *std::max_element(z, z + V), zt = z[targets[n]];
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += (z[v] = std::exp(z[v] - mx));
      loss[n] = std::log(sum) - (double(zt) - mx);
      const float k = static_cast<float>(grad_scale / sum);
      for (int64_t v = 0; v < V; ++v) z[v] *= k;
      z[targets[n]] -= grad_scale;
    }
  });
  double total = 0;
  for (double l : loss) total += l;  // in row order, for any thread count
  return total;
}

void log_softmax_at(float* logits, const int32_t* targets, int64_t N, int64_t V, double* logp, int threads) {
  parallel_for(N, threads, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      float* z = logits + n * V;
      const float mx = *std::max_element(z, z + V), zt = z[targets[n]];
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += (z[v] = std::exp(z[v] - mx));
      logp[n] = (double(zt) - mx) - std::log(sum);
      const float k = static_cast<float>(1.0 / sum);
      for (int64_t v = 0; v < V; ++v) z[v] *= k;
    }
  });
}

void logprob_backward(float* probs, const int32_t* targets, const float* weights, int64_t N, int64_t V, int threads) {
  parallel_for(N, threads, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      float* z = probs + n * V;
      const float w = weights[n];
      for (int64_t v = 0; v < V; ++v) z[v] *= -w;
      z[targets[n]] += w;
    }
  });
}

}  // namespace qkv::train::ops
