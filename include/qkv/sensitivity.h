// How much a model's output moves when one of its tensors is replaced by a
// quantized form: the mean KL divergence of the modified model's next-token
// distributions from the unmodified model's, over a calibration text. The
// adaptive planner (qkv/budget_plan.h) scales each tensor's predicted error
// by it, so that errors in the tensors the output is most sensitive to (the
// output head, attn_v, ffn_down ...) count for what they cost.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qkv/model.h"

namespace qkv {

class SensitivityProbe {
 public:
  // tokens: cut into windows of n_ctx (at most max_windows), each evaluated
  // from scratch with its first token replaced by bos (when >= 0).
  SensitivityProbe(std::shared_ptr<const Model> base, const std::vector<int32_t>& tokens, int n_ctx, int max_windows,
                   int threads, int32_t bos);
  // KL divergence from the base when tensor `name` holds `data` (its bytes as `type`).
  double kld(const std::string& name, TensorType type, std::span<const uint8_t> data) const;

 private:
  std::vector<std::vector<float>> run(const std::shared_ptr<const Model>& m) const;  // log-probs per window
  std::shared_ptr<const Model> base_;
  std::vector<std::vector<int32_t>> windows_;
  int threads_;
  std::vector<std::vector<float>> base_logp_;
};

}  // namespace qkv
