// Optimisation: the learning-rate schedule, global-norm gradient clipping and
// AdamW, each written to do exactly what PyTorch's counterpart does
// (torch.nn.utils.clip_grad_norm_, torch.optim.AdamW), so that the two can be
// compared step for step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qkv/train_model.h"

namespace qkv::train {

struct Schedule {
  float lr = 1e-3f, min_lr = 1e-4f;
  int64_t warmup = 100, steps = 1000;
};
// The learning rate of update `step` (0-based): a linear warmup to lr over
// the first `warmup` updates (the first is lr / warmup), then a cosine from lr
// down to min_lr at the last update (steps - 1); min_lr after that.
float lr_at(const Schedule& s, int64_t step);

// sqrt(sum of g^2), summed in double over fixed chunks in a fixed order: the
// same bits for any thread count.
double global_norm(std::span<const float> g, int threads);
// clip_grad_norm_: when max_norm > 0 and the global norm exceeds it, scales g
// by max_norm / (norm + 1e-6). Returns the norm before clipping.
double clip_grad_norm(std::span<float> g, float max_norm, int threads);

struct AdamWConfig {
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
};

// AdamW with decoupled weight decay and bias correction. The decay applies
// to the tensors flagged `decay` (matrices; norm gains are left alone).
class AdamW {
 public:
  AdamW(const AdamWConfig& config, size_t n_params);

  // One update: p *= 1 - lr * wd; m, v move towards g, g^2;
  // p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
  void update(std::span<float> params, std::span<const float> grads, const std::vector<ParamInfo>& tensors, float lr,
              int threads);

  const AdamWConfig& config() const { return config_; }
  // State, for checkpoints: updates done so far (t) and the two moments.
  int64_t updates() const { return t_; }
  void set_updates(int64_t t) { t_ = t; }
  std::span<float> m() { return m_; }
  std::span<float> v() { return v_; }
  std::span<const float> m() const { return m_; }
  std::span<const float> v() const { return v_; }

 private:
  AdamWConfig config_;
  int64_t t_ = 0;
  std::vector<float> m_, v_;
};

}  // namespace qkv::train
