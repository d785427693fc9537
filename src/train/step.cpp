// One optimizer step: accumulate gradients over micro-batches, clip, update.
#include "qkv/error.h"
#include "qkv/train.h"
#include "qkv/train_distributed.h"

namespace qkv::train {

StepStats train_step(Transformer& model, AdamW& opt, std::span<const Batch> micro_batches, float lr, float clip) {
  if (micro_batches.empty()) throw Error(ErrorKind::Usage, "a training step needs at least one micro-batch");
  model.zero_grads();
  const float share = 1.0f / static_cast<float>(micro_batches.size());
  double loss = 0;
  for (const Batch& b : micro_batches) loss += model.forward_backward(b.tokens, b.targets, b.B, b.T, share);
  // Data parallel: every rank saw its own rows of the global batch, so the
  // mean of the ranks' gradients (and losses) is the global batch's; clipping
  // and the update then run identically on every rank.
  dist::average(model.grads());
  StepStats s;
  s.loss = static_cast<float>(dist::average(loss / static_cast<double>(micro_batches.size())));
  s.grad_norm = clip_grad_norm(model.grads(), clip, model.threads());
  s.lr = lr;
  opt.update(model.params(), model.grads(), model.tensors(), lr, model.threads());
  return s;
}

}  // namespace qkv::train
