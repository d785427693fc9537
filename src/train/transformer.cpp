// The trainable llama: parameter layout, initialisation, and the forward and
// backward passes over a batch of B sequences of T tokens (N = B * T rows).
// C = dim, Q = heads * head_dim, KV = kv_heads * head_dim, F = ffn, V = vocab.
#include <cmath>
#include <cstring>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/train_model.h"
#include "train/ops.h"
#include "train/rng.h"

namespace qkv::train {
namespace {

// Per-layer tensors, in their order in the flat buffer after token_embd.
enum LayerTensor { kAttnNorm, kWq, kWk, kWv, kWo, kFfnNorm, kWGate, kWUp, kWDown, kPerLayer };

}  // namespace

int64_t Shape::n_params() const {
  const int64_t C = dim, Q = int64_t(heads) * head_dim(), KV = int64_t(kv_heads) * head_dim();
  const int64_t per_layer = 2 * C + C * Q + 2 * C * KV + Q * C + 3 * C * ffn;
  return int64_t(vocab) * C * (tied ? 1 : 2) + layers * per_layer + C;
}

void Shape::validate() const {
  auto fail = [](const std::string& msg) { throw Error(ErrorKind::Usage, msg); };
  if (vocab <= 0 || dim <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || ffn <= 0 || ctx <= 0)
    fail("model sizes must be positive (--dim, --layers, --heads, --kv-heads, --ffn, --ctx)");
  if (dim % heads != 0)
    fail("--dim " + std::to_string(dim) + " is not a multiple of --heads " + std::to_string(heads));
  if (heads % kv_heads != 0)
    fail("--heads " + std::to_string(heads) + " is not a multiple of --kv-heads " + std::to_string(kv_heads));
  if (head_dim() % 2 != 0)
    fail("the head size --dim / --heads = " + std::to_string(head_dim()) + " must be even for RoPE");
  if (!(norm_eps > 0) || !(rope_base > 0)) fail("norm epsilon and RoPE base must be positive");
}

struct Transformer::Activations {
  int B = 0, T = 0;
  ops::RopeTable rope;
  struct Layer {
    std::vector<float> n1, rstd1;  // attention norm output [N x C] and its 1/rms [N]
    std::vector<float> q, k, v;    // [N x Q], [N x KV], [N x KV]; q and k after RoPE
    std::vector<float> probs;      // [B x H x T x T]
    std::vector<float> att;        // attention output [N x Q], input of attn_output
    std::vector<float> n2, rstd2;  // MLP norm output [N x C] and its 1/rms [N]
    std::vector<float> g, u, a;    // gate and up projections, silu(g) * u: [N x F] each
  };
  // The residual stream, [N x C] each: x[2l] enters layer l, x[2l+1] follows
  // its attention block, and the last is the output of the last layer.
  std::vector<std::vector<float>> x;
  std::vector<Layer> layers;
  std::vector<float> nf, rstdf, logits;  // final norm [N x C], [N]; logits [N x V]
  // Backward scratch, reused by every layer; dscores is [B x H x T x T].
  std::vector<float> dx, dn, datt, dq, dk, dv, da, dg, du, dscores;
};

Transformer::Transformer(const Shape& shape, int threads) : shape_(shape), threads_(resolve_threads(threads)) {
  shape_.validate();
  const int64_t C = shape_.dim, D = shape_.head_dim(), Q = shape_.heads * D, KV = shape_.kv_heads * D;
  int64_t offset = 0;
  auto add = [&](std::string name, int64_t rows, int64_t cols) {
    tensors_.push_back({std::move(name), offset, rows, cols, rows > 1});
    offset += rows * cols;
  };
  add("token_embd.weight", shape_.vocab, C);
  for (int l = 0; l < shape_.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", 1, C);
    add(p + "attn_q.weight", Q, C);
    add(p + "attn_k.weight", KV, C);
    add(p + "attn_v.weight", KV, C);
    add(p + "attn_output.weight", C, Q);
    add(p + "ffn_norm.weight", 1, C);
    add(p + "ffn_gate.weight", shape_.ffn, C);
    add(p + "ffn_up.weight", shape_.ffn, C);
    add(p + "ffn_down.weight", C, shape_.ffn);
  }
  add("output_norm.weight", 1, C);
  if (!shape_.tied) add("output.weight", shape_.vocab, C);
  params_.assign(static_cast<size_t>(offset), 0.0f);
  grads_.assign(params_.size(), 0.0f);
}

Transformer::~Transformer() = default;

void Transformer::init(uint64_t seed) {
  Rng rng = Rng::stream(seed, 0);
  const double residual_scale = 1.0 / std::sqrt(2.0 * shape_.layers);
  for (const auto& t : tensors_) {
    float* p = params_.data() + t.offset;
    if (t.rows == 1) {  // norm gains
      std::fill(p, p + t.size(), 1.0f);
      continue;
    }
    const bool residual = t.name.ends_with("attn_output.weight") || t.name.ends_with("ffn_down.weight");
    const double sigma = 0.02 * (residual ? residual_scale : 1.0);
    for (int64_t i = 0; i < t.size(); ++i) p[i] = static_cast<float>(sigma * rng.normal());
  }
}

void Transformer::zero_grads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

Transformer::Activations& Transformer::acts(int B, int T) {
  if (acts_ && acts_->B == B && acts_->T == T) return *acts_;
  acts_ = std::make_unique<Activations>();
  Activations& A = *acts_;
  const Shape& s = shape_;
  const size_t N = size_t(B) * T, C = s.dim, D = s.head_dim(), Q = s.heads * D, KV = s.kv_heads * D, F = s.ffn;
  A.B = B;
  A.T = T;
  A.rope = ops::rope_table(T, static_cast<int64_t>(D), s.rope_base);
  A.x.assign(2 * size_t(s.layers) + 1, std::vector<float>(N * C));
  A.layers.resize(static_cast<size_t>(s.layers));
  for (auto& L : A.layers) {
    L.n1.resize(N * C), L.rstd1.resize(N), L.q.resize(N * Q), L.k.resize(N * KV), L.v.resize(N * KV);
    L.probs.resize(size_t(B) * s.heads * T * T), L.att.resize(N * Q);
    L.n2.resize(N * C), L.rstd2.resize(N), L.g.resize(N * F), L.u.resize(N * F), L.a.resize(N * F);
  }
  A.nf.resize(N * C), A.rstdf.resize(N), A.logits.resize(N * size_t(s.vocab));
  A.dx.resize(N * C), A.dn.resize(N * C), A.datt.resize(N * Q), A.dq.resize(N * Q), A.dk.resize(N * KV),
      A.dv.resize(N * KV), A.da.resize(N * F), A.dg.resize(N * F), A.du.resize(N * F);
  A.dscores.resize(size_t(B) * s.heads * T * T);
  return A;
}

namespace {

void check_batch(const Shape& s, std::span<const int32_t> tokens, std::span<const int32_t> targets, int B, int T,
                 bool with_targets) {
  if (B <= 0 || T <= 0 || T > s.ctx)
    throw Error(ErrorKind::Usage, "a batch needs B > 0 sequences of 0 < T <= ctx (" + std::to_string(s.ctx) +
                                      ") tokens, not " + std::to_string(B) + " x " + std::to_string(T));
  const size_t n = size_t(B) * T;
  if (tokens.size() != n || (with_targets && targets.size() != n))
    throw Error(ErrorKind::Usage, "tokens and targets must hold B x T = " + std::to_string(n) + " ids");
  for (auto ids : {tokens, targets})
    for (int32_t id : ids)
      if (id < 0 || id >= s.vocab)
        throw Error(ErrorKind::Usage,
                    "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(s.vocab));
}

}  // namespace

void Transformer::forward(std::span<const int32_t> tokens, int B, int T) {
  Activations& A = acts(B, T);
  const Shape& s = shape_;
  const int64_t N = int64_t(B) * T, C = s.dim, D = s.head_dim(), Q = s.heads * D, KV = s.kv_heads * D, F = s.ffn;
  const int th = threads_;
  auto w = [&](size_t index) { return params_.data() + tensors_[index].offset; };

  ops::embedding_forward(tokens.data(), w(0), N, C, A.x[0].data(), th);
  for (int l = 0; l < s.layers; ++l) {
    const size_t base = 1 + size_t(l) * kPerLayer;
    auto& L = A.layers[l];
    const float* x = A.x[2 * l].data();
    float* x_mid = A.x[2 * l + 1].data();
    float* x_out = A.x[2 * l + 2].data();
    // Attention block: x_mid = x + attn(norm(x)) . Wo^T
    ops::rmsnorm_forward(x, w(base + kAttnNorm), N, C, s.norm_eps, L.n1.data(), L.rstd1.data(), th);
    ops::linear_forward(L.n1.data(), w(base + kWq), N, C, Q, L.q.data(), th);
    ops::linear_forward(L.n1.data(), w(base + kWk), N, C, KV, L.k.data(), th);
    ops::linear_forward(L.n1.data(), w(base + kWv), N, C, KV, L.v.data(), th);
    ops::rope_forward(L.q.data(), B, T, s.heads, D, A.rope, th);
    ops::rope_forward(L.k.data(), B, T, s.kv_heads, D, A.rope, th);
    ops::attention_forward(L.q.data(), L.k.data(), L.v.data(), {B, T, s.heads, s.kv_heads, D}, L.probs.data(),
                           L.att.data(), th);
    ops::linear_forward(L.att.data(), w(base + kWo), N, Q, C, x_mid, th);
    for (int64_t i = 0; i < N * C; ++i) x_mid[i] += x[i];
    // MLP block: x_out = x_mid + (silu(n2 . Wg^T) * (n2 . Wu^T)) . Wd^T
    ops::rmsnorm_forward(x_mid, w(base + kFfnNorm), N, C, s.norm_eps, L.n2.data(), L.rstd2.data(), th);
    ops::linear_forward(L.n2.data(), w(base + kWGate), N, C, F, L.g.data(), th);
    ops::linear_forward(L.n2.data(), w(base + kWUp), N, C, F, L.u.data(), th);
    ops::swiglu_forward(L.g.data(), L.u.data(), N * F, L.a.data(), th);
    ops::linear_forward(L.a.data(), w(base + kWDown), N, F, C, x_out, th);
    for (int64_t i = 0; i < N * C; ++i) x_out[i] += x_mid[i];
  }
  const size_t out_norm = 1 + size_t(s.layers) * kPerLayer;
  ops::rmsnorm_forward(A.x.back().data(), w(out_norm), N, C, s.norm_eps, A.nf.data(), A.rstdf.data(), th);
  ops::linear_forward(A.nf.data(), w(s.tied ? 0 : out_norm + 1), N, C, s.vocab, A.logits.data(), th);
}

// Expects A.logits to hold d(loss)/d(logits); adds every parameter's gradient to grads_.
void Transformer::backward(std::span<const int32_t> tokens, int B, int T) {
  Activations& A = *acts_;
  const Shape& s = shape_;
  const int64_t N = int64_t(B) * T, C = s.dim, D = s.head_dim(), Q = s.heads * D, KV = s.kv_heads * D, F = s.ffn;
  const int th = threads_;
  auto w = [&](size_t index) { return params_.data() + tensors_[index].offset; };
  auto dw = [&](size_t index) { return grads_.data() + tensors_[index].offset; };

  // Output head and final norm; dx is d(loss)/d(residual stream) from here down.
  const size_t out_norm = 1 + size_t(s.layers) * kPerLayer, head = s.tied ? 0 : out_norm + 1;
  ops::linear_backward(A.logits.data(), A.nf.data(), w(head), N, C, s.vocab, A.dn.data(), false, dw(head), th);
  std::fill(A.dx.begin(), A.dx.end(), 0.0f);
  ops::rmsnorm_backward(A.dn.data(), A.x.back().data(), w(out_norm), A.rstdf.data(), N, C, A.dx.data(),
                        dw(out_norm), th);

  for (int l = s.layers - 1; l >= 0; --l) {
    const size_t base = 1 + size_t(l) * kPerLayer;
    auto& L = A.layers[l];
    // MLP block. dx is d(x_out) = d(x_mid) through the residual; the branch adds to it.
    ops::linear_backward(A.dx.data(), L.a.data(), w(base + kWDown), N, F, C, A.da.data(), false, dw(base + kWDown), th);
    ops::swiglu_backward(A.da.data(), L.g.data(), L.u.data(), N * F, A.dg.data(), A.du.data(), th);
    ops::linear_backward(A.dg.data(), L.n2.data(), w(base + kWGate), N, C, F, A.dn.data(), false, dw(base + kWGate), th);
    ops::linear_backward(A.du.data(), L.n2.data(), w(base + kWUp), N, C, F, A.dn.data(), true, dw(base + kWUp), th);
    ops::rmsnorm_backward(A.dn.data(), A.x[2 * l + 1].data(), w(base + kFfnNorm), L.rstd2.data(), N, C, A.dx.data(),
                          dw(base + kFfnNorm), th);
    // Attention block. dx is now d(x_mid) = d(x) through the residual.
    ops::linear_backward(A.dx.data(), L.att.data(), w(base + kWo), N, Q, C, A.datt.data(), false, dw(base + kWo), th);
    ops::attention_backward(A.datt.data(), L.q.data(), L.k.data(), L.v.data(), L.probs.data(),
                            {B, T, s.heads, s.kv_heads, D}, A.dq.data(), A.dk.data(), A.dv.data(),
                            A.dscores.data(), th);
    ops::rope_backward(A.dq.data(), B, T, s.heads, D, A.rope, th);
    ops::rope_backward(A.dk.data(), B, T, s.kv_heads, D, A.rope, th);
    ops::linear_backward(A.dq.data(), L.n1.data(), w(base + kWq), N, C, Q, A.dn.data(), false, dw(base + kWq), th);
    ops::linear_backward(A.dk.data(), L.n1.data(), w(base + kWk), N, C, KV, A.dn.data(), true, dw(base + kWk), th);
    ops::linear_backward(A.dv.data(), L.n1.data(), w(base + kWv), N, C, KV, A.dn.data(), true, dw(base + kWv), th);
    ops::rmsnorm_backward(A.dn.data(), A.x[2 * l].data(), w(base + kAttnNorm), L.rstd1.data(), N, C, A.dx.data(),
                          dw(base + kAttnNorm), th);
  }
  ops::embedding_backward(tokens.data(), A.dx.data(), N, C, dw(0), th);
}

float Transformer::forward_backward(std::span<const int32_t> tokens, std::span<const int32_t> targets, int B, int T,
                                    float loss_scale) {
  check_batch(shape_, tokens, targets, B, T, true);
  forward(tokens, B, T);
  const int64_t N = int64_t(B) * T;
  const double sum = ops::cross_entropy(acts_->logits.data(), targets.data(), N, shape_.vocab,
                                        loss_scale / static_cast<float>(N), threads_);
  backward(tokens, B, T);
  return static_cast<float>(sum / N);
}

float Transformer::loss(std::span<const int32_t> tokens, std::span<const int32_t> targets, int B, int T) {
  check_batch(shape_, tokens, targets, B, T, true);
  forward(tokens, B, T);
  const int64_t N = int64_t(B) * T;
  return static_cast<float>(ops::cross_entropy(acts_->logits.data(), targets.data(), N, shape_.vocab, 0.0f,
                                               threads_) / N);
}

std::vector<double> Transformer::logprobs(std::span<const int32_t> tokens, std::span<const int32_t> targets, int B,
                                          int T) {
  check_batch(shape_, tokens, targets, B, T, true);
  forward(tokens, B, T);
  std::vector<double> lp(size_t(B) * T);
  ops::log_softmax_at(acts_->logits.data(), targets.data(), int64_t(lp.size()), shape_.vocab, lp.data(), threads_);
  return lp;
}

std::vector<double> Transformer::forward_backward_logprobs(std::span<const int32_t> tokens,
                                                           std::span<const int32_t> targets, int B, int T,
                                                           const Weigh& weigh) {
  std::vector<double> lp = logprobs(tokens, targets, B, T);
  const std::vector<float> w = weigh(lp);
  if (w.size() != lp.size())
    throw Error(ErrorKind::Usage, "a weight per position is needed: " + std::to_string(lp.size()) + ", not " +
                                      std::to_string(w.size()));
  ops::logprob_backward(acts_->logits.data(), targets.data(), w.data(), int64_t(w.size()), shape_.vocab, threads_);
  backward(tokens, B, T);
  return lp;
}

std::vector<float> Transformer::logits(std::span<const int32_t> tokens, int B, int T) {
  check_batch(shape_, tokens, {}, B, T, false);
  forward(tokens, B, T);
  return acts_->logits;
}

}  // namespace qkv::train
