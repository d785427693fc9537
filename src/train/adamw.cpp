// The learning-rate schedule, gradient clipping and AdamW.
#include <cmath>
#include <numbers>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/train_optim.h"

namespace qkv::train {

float lr_at(const Schedule& s, int64_t step) {
  if (step < s.warmup) return s.lr * static_cast<float>(step + 1) / static_cast<float>(s.warmup);
  const int64_t decay_steps = s.steps - 1 - s.warmup;
  if (decay_steps <= 0) return s.lr;
  const double progress = std::min(1.0, static_cast<double>(step - s.warmup) / static_cast<double>(decay_steps));
  return static_cast<float>(s.min_lr + 0.5 * (s.lr - s.min_lr) * (1.0 + std::cos(std::numbers::pi * progress)));
}

double global_norm(std::span<const float> g, int threads) {
  constexpr int64_t kChunk = 1 << 16;
  const int64_t n = static_cast<int64_t>(g.size()), chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
  parallel_for(chunks, threads, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double sum = 0;
      for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) sum += double(g[i]) * g[i];
      partial[c] = sum;
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return std::sqrt(total);
}

double clip_grad_norm(std::span<float> g, float max_norm, int threads) {
  const double norm = global_norm(g, threads);
  if (max_norm > 0 && norm > max_norm) {
    const float k = static_cast<float>(max_norm / (norm + 1e-6));
    parallel_for(static_cast<int64_t>(g.size()), threads, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) g[i] *= k;
    }, 4096);
  }
  return norm;
}

AdamW::AdamW(const AdamWConfig& config, size_t n_params)
    : config_(config), m_(n_params, 0.0f), v_(n_params, 0.0f) {}

void AdamW::update(std::span<float> params, std::span<const float> grads, const std::vector<ParamInfo>& tensors,
                   float lr, int threads) {
  if (params.size() != m_.size() || grads.size() != m_.size())
    throw Error(ErrorKind::Usage, "AdamW: parameter and gradient counts differ from the optimizer's");
  ++t_;
  const AdamWConfig& c = config_;
  // Bias corrections in double, as PyTorch computes them (in Python floats).
  const double bc1 = 1.0 - std::pow(double(c.beta1), double(t_)), bc2 = 1.0 - std::pow(double(c.beta2), double(t_));
  const float step_size = static_cast<float>(lr / bc1), bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  for (const ParamInfo& t : tensors) {
    const float keep = t.decay ? 1.0f - lr * c.weight_decay : 1.0f;
    parallel_for(t.size(), threads, [&](int64_t begin, int64_t end) {
      // Four arrays that never overlap: telling the compiler lets it vectorize.
      float* __restrict p = params.data() + t.offset;
      const float* __restrict g = grads.data() + t.offset;
      float* __restrict m = m_.data() + t.offset;
      float* __restrict v = v_.data() + t.offset;
      for (int64_t i = begin; i < end; ++i) {
        m[i] += (1.0f - c.beta1) * (g[i] - m[i]);
        v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g[i] * g[i];
        p[i] = p[i] * keep - step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + c.eps);
      }
    }, 4096);
  }
}

}  // namespace qkv::train
