// A trainable llama: fp32 master weights in one flat buffer, a forward pass
// that keeps what the backward pass needs, and a hand-written backward pass.
// The architecture is exactly what the runtime (session.h) and llama.cpp run
// for GGUF "llama" models: token embedding, RMSNorm, RoPE on adjacent pairs
// (ggml's "normal" layout), grouped-query causal attention, SwiGLU MLP, final
// RMSNorm and a tied or separate output head. Tensor names are GGUF's, and a
// matrix is stored [out x in] row-major, which is GGUF's {in, out} layout, so
// exporting is a copy.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace qkv::train {

// Hyperparameters of the model being trained.
struct Shape {
  int32_t vocab = 259;  // the built-in byte vocabulary (see train_data.h)
  int32_t dim = 256, layers = 4, heads = 4, kv_heads = 4, ffn = 688;
  int32_t ctx = 256;  // training sequence length, and the exported context length
  float norm_eps = 1e-5f, rope_base = 10000.0f;
  bool tied = true;  // the output head reuses token_embd.weight

  int32_t head_dim() const { return dim / heads; }
  int64_t n_params() const;
  // Throws qkv::Error (Usage) naming the flag that is wrong.
  void validate() const;
  bool operator==(const Shape&) const = default;
};

// One tensor inside the flat parameter buffer: `rows` x `cols` row-major
// (a linear layer's [out x in]); a vector has rows = 1.
struct ParamInfo {
  std::string name;  // the GGUF tensor name, e.g. "blk.0.attn_q.weight"
  int64_t offset = 0, rows = 0, cols = 0;
  bool decay = false;  // AdamW's weight decay applies (matrices, not norm gains)
  int64_t size() const { return rows * cols; }
};

class Transformer {
 public:
  // threads <= 0: all cores. Parameters start at zero; call init() or load them.
  explicit Transformer(const Shape& shape, int threads = 0);
  ~Transformer();
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  const Shape& shape() const { return shape_; }
  int threads() const { return threads_; }
  const std::vector<ParamInfo>& tensors() const { return tensors_; }
  std::span<float> params() { return params_; }
  std::span<const float> params() const { return params_; }
  std::span<float> grads() { return grads_; }
  std::span<const float> grads() const { return grads_; }
  std::span<float> param(const ParamInfo& t) { return params().subspan(t.offset, t.size()); }

  // GPT-2's initialisation: matrices ~ N(0, 0.02), the two projections that
  // write into the residual stream scaled by 1/sqrt(2 * layers), norm gains 1.
  void init(uint64_t seed);
  void zero_grads();

  // tokens, targets: [B x T] row-major, T <= shape().ctx. Runs the forward
  // and backward passes and adds d(loss_scale * loss)/d(params) to grads();
  // returns the loss, the mean cross-entropy over all B*T targets.
  float forward_backward(std::span<const int32_t> tokens, std::span<const int32_t> targets, int B, int T,
                         float loss_scale = 1.0f);
  // The same loss without the backward pass (evaluation).
  float loss(std::span<const int32_t> tokens, std::span<const int32_t> targets, int B, int T);
  // Logits [B x T x vocab] of every position.
  std::vector<float> logits(std::span<const int32_t> tokens, int B, int T);

  // Sequence-level objectives (DPO, train_dpo.h): log p(targets[n]) of every
  // position [B x T], in double.
  std::vector<double> logprobs(std::span<const int32_t> tokens, std::span<const int32_t> targets, int B, int T);
  // The same, then weigh(logprobs) gives d(loss)/d(log p) of every position
  // (0 where one does not count) and the backward pass adds d(loss)/d(params)
  // to grads(). One forward pass serves both, so a loss that needs the
  // log-probabilities first costs no second pass.
  using Weigh = std::function<std::vector<float>(std::span<const double> logprobs)>;
  std::vector<double> forward_backward_logprobs(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                                                int B, int T, const Weigh& weigh);

  struct Activations;  // opaque: buffers sized for the last B x T

 private:
  void forward(std::span<const int32_t> tokens, int B, int T);
  void backward(std::span<const int32_t> tokens, int B, int T);
  Activations& acts(int B, int T);

  Shape shape_;
  int threads_;
  std::vector<ParamInfo> tensors_;
  std::vector<float> params_, grads_;
  std::unique_ptr<Activations> acts_;
};

}  // namespace qkv::train
