// The transformer forward pass (llama family and GPT-2) over a KV cache.
// Shapes are noted as [rows x cols] with T = tokens in this call.
#include "qkv/session.h"

#include <cmath>
#include <cstring>

#include "qkv/error.h"
#include "qkv/fp16.h"
#include "qkv/parallel.h"
#include "qkv/quant.h"
#include "runtime/backend.h"
#include "runtime/ops.h"

namespace qkv {
namespace {

std::vector<float> floats_of(const Weight& w) {
  if (!w) return {};
  std::vector<float> v(w.cols * w.rows);
  quant::dequantize(w.type, w.data, v.data(), static_cast<int64_t>(w.rows), static_cast<int64_t>(w.cols), 1);
  return v;
}

// A view of rows [first, first + n) of a 2-D weight.
Weight rows_of(const Weight& w, uint64_t first, uint64_t n) {
  Weight r = w;
  r.data = w.data + first * w.row_size();
  r.rows = n;
  r.interleaved = nullptr;  // fused matrices are never interleaved; a row range of one could not be
  return r;
}

struct LayerFloats {  // 1-D weights, converted to float once
  std::vector<float> attn_norm, attn_norm_b, bq, bk, bv, bo, q_norm, k_norm, ffn_norm, ffn_norm_b, b_up, b_down;
};

}  // namespace

struct Session::Impl {
  std::shared_ptr<const Model> model;
  const ModelConfig& c;
  int n_ctx, threads, n_past = 0;
  std::shared_ptr<ops::Backend> backend;     // runs the matrix products and attention
  std::vector<LayerFloats> lf;
  std::vector<float> out_norm, out_norm_b, rope_freqs;
  bool exact;                                 // AttentionPrecision::Exact
  std::vector<uint16_t> k_cache, v_cache;     // fp16 [n_layer][n_ctx][kv_dim] (LlamaCpp precision)
  std::vector<float> k_exact, v_exact;        // float32, same layout (Exact precision)

  Impl(std::shared_ptr<const Model> m, int ctx, int th, AttentionPrecision p, std::shared_ptr<ops::Backend> be)
      : model(std::move(m)),
        c(model->config()),
        threads(resolve_threads(th)),
        backend(be ? std::move(be) : ops::cpu_backend(threads)),
        exact(p == AttentionPrecision::Exact) {
    n_ctx = ctx > 0 ? ctx : static_cast<int>(std::min<uint32_t>(c.n_ctx_train, 4096));
    for (const auto& L : model->layers)
      lf.push_back({floats_of(L.attn_norm), floats_of(L.attn_norm_b), floats_of(L.bq), floats_of(L.bk), floats_of(L.bv),
                    floats_of(L.bo), floats_of(L.q_norm), floats_of(L.k_norm), floats_of(L.ffn_norm),
                    floats_of(L.ffn_norm_b), floats_of(L.b_up), floats_of(L.b_down)});
    out_norm = floats_of(model->output_norm);
    out_norm_b = floats_of(model->output_norm_b);
    rope_freqs = floats_of(model->rope_freqs);
    const size_t kv = size_t(c.n_head_kv) * c.head_dim;
    if (exact) {
      k_exact.assign(size_t(c.n_layer) * n_ctx * kv, 0.0f);
      v_exact.assign(size_t(c.n_layer) * n_ctx * kv, 0.0f);
    } else {
      k_cache.assign(size_t(c.n_layer) * n_ctx * kv, 0);
      v_cache.assign(size_t(c.n_layer) * n_ctx * kv, 0);
    }
  }

  // Throws (Usage) for an empty list, a full context or a bad token id.
  void check(std::span<const int32_t> tokens) const {
    if (tokens.empty()) throw Error(ErrorKind::Usage, "decode() needs at least one token");
    if (n_past + static_cast<int64_t>(tokens.size()) > n_ctx)
      throw Error(ErrorKind::Usage, "context is full: " + std::to_string(n_past) + " + " +
                                        std::to_string(tokens.size()) + " tokens exceed n_ctx " +
                                        std::to_string(n_ctx) + " (raise -c)");
    for (int32_t t : tokens)
      if (t < 0 || static_cast<uint32_t>(t) >= c.n_vocab)
        throw Error(ErrorKind::Usage, "token id " + std::to_string(t) + " is outside the vocabulary");
  }

  size_t kv_dim() const { return size_t(c.n_head_kv) * c.head_dim; }
  size_t at(uint32_t layer, int64_t pos) const { return (size_t(layer) * n_ctx + pos) * kv_dim(); }
  void store_kv(uint32_t layer, int64_t pos, const float* k, const float* v) {
    if (exact) {
      std::memcpy(&k_exact[at(layer, pos)], k, kv_dim() * sizeof(float));
      std::memcpy(&v_exact[at(layer, pos)], v, kv_dim() * sizeof(float));
    } else {
      fp32_to_fp16_row(k, &k_cache[at(layer, pos)], kv_dim());
      fp32_to_fp16_row(v, &v_cache[at(layer, pos)], kv_dim());
    }
  }

  void norm(const float* x, const std::vector<float>& w, const std::vector<float>& b, float* out) const {
    if (c.norm == NormType::RMS)
      ops::rms_norm(x, w.data(), c.n_embd, c.norm_eps, out);
    else
      ops::layer_norm(x, w.data(), b.empty() ? nullptr : b.data(), c.n_embd, c.norm_eps, out);
  }

  static void add_bias(float* y, const std::vector<float>& b, int64_t T, int64_t n) {
    if (b.empty()) return;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < n; ++i) y[t * n + i] += b[i];
  }
};

namespace {

// The forward pass's activation buffers, grown to fit and then reused.
struct ForwardScratch {
  struct Buffers {
    std::vector<float> x, h, q, k, v, att, tmp, up;
  } b;
  Buffers& sized(int64_t xd, int64_t qd, int64_t kvd, int64_t tmpd, int64_t upd) {
    for (const auto& [vec, n] : {std::pair{&b.x, xd}, {&b.h, xd}, {&b.q, qd}, {&b.k, kvd}, {&b.v, kvd},
                                 {&b.att, qd}, {&b.tmp, tmpd}, {&b.up, upd}})
      if (vec->size() < size_t(n)) vec->resize(size_t(n));
    return b;
  }
};

// Where one token of a batch goes: its session and its position there.
struct Slot {
  Session::Impl* seq;
  int64_t pos;
};

}  // namespace

// One forward pass over the tokens of several sequences at once: the matrix
// products run over all their tokens together (weights are read once per
// batch); attention reads each token's own sequence's cache.
// Returns, per sequence, the logits of its last token or of all its tokens.
std::vector<std::vector<float>> forward_batch(std::span<Session::Impl* const> seqs,
                                              std::span<const std::span<const int32_t>> toks, bool all_logits) {
  Session::Impl& s0 = *seqs[0];
  const ModelConfig& c = s0.c;
  const Model* model = s0.model.get();
  const int threads = s0.threads;
  ops::Backend& be = *s0.backend;
  std::vector<Slot> slots;
  std::vector<int32_t> tokens;
  for (size_t i = 0; i < seqs.size(); ++i)
    for (size_t t = 0; t < toks[i].size(); ++t) {
      slots.push_back({seqs[i], seqs[i]->n_past + static_cast<int64_t>(t)});
      tokens.push_back(toks[i][t]);
    }
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t d = c.n_embd, hd = c.head_dim, q_dim = int64_t(c.n_head) * hd, kv_dim = int64_t(c.n_head_kv) * hd;
  const int64_t ff = c.n_ff;
  // Activations live in buffers kept per calling thread and only ever grown:
  // generation allocates nothing per token. Every element used is written
  // before it is read.
  thread_local ForwardScratch scratch;
  auto& b = scratch.sized(T * d, T * q_dim, T * kv_dim, T * std::max(d, 2 * ff), T * 2 * ff);
  std::vector<float>& x = b.x, &h = b.h, &q = b.q, &k = b.k, &v = b.v, &att = b.att, &tmp = b.tmp, &up = b.up;

  for (int64_t t = 0; t < T; ++t) {
    ops::get_row(model->token_embd, static_cast<uint64_t>(tokens[t]), &x[t * d]);
    if (model->pos_embd) {
      std::vector<float> pe(d);
      ops::get_row(model->pos_embd, static_cast<uint64_t>(slots[t].pos), pe.data());
      for (int64_t i = 0; i < d; ++i) x[t * d + i] += pe[i];
    }
  }

  const ops::AttentionShape shape{c.n_head, c.n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  thread_local std::vector<ops::AttentionRow> attention_rows;
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = model->layers[l];
    const LayerFloats& F = s0.lf[l];
    ops::for_tokens(T, 4 * d, threads, [&](int64_t t) { s0.norm(&x[t * d], F.attn_norm, F.attn_norm_b, &h[t * d]); });
    if (L.wqkv) {  // fused: rows [q | k | v]
      ops::MatmulInput in(h.data(), T, d, threads);
      be.matmul(rows_of(L.wqkv, 0, q_dim), in, q.data());
      be.matmul(rows_of(L.wqkv, q_dim, kv_dim), in, k.data());
      be.matmul(rows_of(L.wqkv, q_dim + kv_dim, kv_dim), in, v.data());
      if (L.bqkv) {
        const auto b = floats_of(L.bqkv);
        for (int64_t t = 0; t < T; ++t) {
          for (int64_t i = 0; i < q_dim; ++i) q[t * q_dim + i] += b[i];
          for (int64_t i = 0; i < kv_dim; ++i)
            k[t * kv_dim + i] += b[q_dim + i], v[t * kv_dim + i] += b[q_dim + kv_dim + i];
        }
      }
    } else {
      ops::MatmulInput in(h.data(), T, d, threads);  // quantized once for the three
      be.matmul(L.wq, in, q.data());
      be.matmul(L.wk, in, k.data());
      be.matmul(L.wv, in, v.data());
      Session::Impl::add_bias(q.data(), F.bq, T, q_dim);
      Session::Impl::add_bias(k.data(), F.bk, T, kv_dim);
      Session::Impl::add_bias(v.data(), F.bv, T, kv_dim);
    }
    ops::for_tokens(T, 8 * (q_dim + kv_dim), threads, [&](int64_t t) {
      if (!F.q_norm.empty())  // qk-norm (qwen3): RMS norm per head before RoPE
        for (int64_t hh = 0; hh < c.n_head; ++hh)
          ops::rms_norm(&q[t * q_dim + hh * hd], F.q_norm.data(), hd, c.norm_eps, &q[t * q_dim + hh * hd]);
      if (!F.k_norm.empty())
        for (int64_t hh = 0; hh < c.n_head_kv; ++hh)
          ops::rms_norm(&k[t * kv_dim + hh * hd], F.k_norm.data(), hd, c.norm_eps, &k[t * kv_dim + hh * hd]);
      if (c.arch != "gpt2") {
        const float* ff_ = s0.rope_freqs.empty() ? nullptr : s0.rope_freqs.data();
        ops::rope(&q[t * q_dim], c.n_head, hd, c.n_rot, slots[t].pos, c.rope_base, c.rope_scale, c.rope, ff_);
        ops::rope(&k[t * kv_dim], c.n_head_kv, hd, c.n_rot, slots[t].pos, c.rope_base, c.rope_scale, c.rope, ff_);
      }
      slots[t].seq->store_kv(l, slots[t].pos, &k[t * kv_dim], &v[t * kv_dim]);  // each token its own slot
    });
    // Causal attention: a token at position p sees positions [0, p] of its own sequence.
    attention_rows.clear();
    for (int64_t t = 0; t < T; ++t) {
      const Session::Impl& seq = *slots[t].seq;
      const size_t first = seq.at(l, 0);
      attention_rows.push_back({&q[t * q_dim], &att[t * q_dim], slots[t].pos + 1,
                                seq.exact ? nullptr : &seq.k_cache[first], seq.exact ? nullptr : &seq.v_cache[first],
                                seq.exact ? &seq.k_exact[first] : nullptr, seq.exact ? &seq.v_exact[first] : nullptr,
                                seq.kv_dim()});
    }
    be.attention(shape, attention_rows);
    be.matmul(L.wo, att.data(), T, tmp.data());
    Session::Impl::add_bias(tmp.data(), F.bo, T, d);
    for (int64_t i = 0; i < T * d; ++i) x[i] += tmp[i];

    ops::for_tokens(T, 4 * d, threads, [&](int64_t t) { s0.norm(&x[t * d], F.ffn_norm, F.ffn_norm_b, &h[t * d]); });
    if (c.gelu_mlp) {
      be.matmul(L.w_up, h.data(), T, up.data());
      Session::Impl::add_bias(up.data(), F.b_up, T, ff);
      for (int64_t i = 0; i < T * ff; ++i) up[i] = ops::gelu(up[i]);
    } else if (L.w_gate) {
      ops::MatmulInput in(h.data(), T, d, threads);  // quantized once for both
      be.matmul(L.w_gate, in, tmp.data());
      be.matmul(L.w_up, in, up.data());
      ops::for_tokens(T, 16 * ff, threads, [&](int64_t t) {
        for (int64_t i = t * ff; i < (t + 1) * ff; ++i) up[i] *= ops::silu(tmp[i]);
      });
    } else {  // fused gate|up (phi3): first n_ff rows gate, next n_ff up
      be.matmul(L.w_up, h.data(), T, tmp.data());
      for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < ff; ++i) up[t * ff + i] = ops::silu(tmp[t * 2 * ff + i]) * tmp[t * 2 * ff + ff + i];
    }
    be.matmul(L.w_down, up.data(), T, tmp.data());
    Session::Impl::add_bias(tmp.data(), F.b_down, T, d);
    for (int64_t i = 0; i < T * d; ++i) x[i] += tmp[i];
  }

  // Final norm and output head, for the rows whose logits are wanted.
  std::vector<int64_t> wanted;
  int64_t start = 0;
  for (const auto& tk : toks) {
    const int64_t n = static_cast<int64_t>(tk.size());
    for (int64_t t = all_logits ? 0 : n - 1; t < n; ++t) wanted.push_back(start + t);
    start += n;
  }
  for (size_t i = 0; i < wanted.size(); ++i) s0.norm(&x[wanted[i] * d], s0.out_norm, s0.out_norm_b, &h[i * d]);
  const int64_t V = c.n_vocab;
  std::vector<float> logits(wanted.size() * V);
  be.matmul(model->output, h.data(), static_cast<int64_t>(wanted.size()), logits.data());

  std::vector<std::vector<float>> out(seqs.size());
  size_t row = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const size_t n = all_logits ? toks[i].size() : 1;
    out[i].assign(logits.begin() + row * V, logits.begin() + (row + n) * V);
    row += n;
    seqs[i]->n_past += static_cast<int>(toks[i].size());
  }
  return out;
}

Session::Session(std::shared_ptr<const Model> model, int n_ctx, int threads, AttentionPrecision precision)
    : Session(std::move(model), n_ctx, threads, precision, nullptr) {}
Session::Session(std::shared_ptr<const Model> model, int n_ctx, int threads, AttentionPrecision precision,
                 std::shared_ptr<ops::Backend> backend)
    : impl_(std::make_unique<Impl>(std::move(model), n_ctx, threads, precision, std::move(backend))) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;

std::vector<float> Session::decode(std::span<const int32_t> tokens, bool all_logits) {
  impl_->check(tokens);
  Impl* seq = impl_.get();
  const std::span<const int32_t> one[] = {tokens};
  return std::move(forward_batch(std::span<Impl* const>(&seq, 1), one, all_logits)[0]);
}

std::vector<std::vector<float>> decode_batch(std::span<Session* const> sessions,
                                             std::span<const std::vector<int32_t>> tokens, bool all_logits) {
  if (sessions.size() != tokens.size() || sessions.empty())
    throw Error(ErrorKind::Usage, "decode_batch needs one token list per session");
  std::vector<Session::Impl*> seqs;
  std::vector<std::span<const int32_t>> spans;
  for (size_t i = 0; i < sessions.size(); ++i) {
    Session::Impl& s = *sessions[i]->impl_;
    if (s.model.get() != sessions[0]->impl_->model.get())
      throw Error(ErrorKind::Usage, "decode_batch: all sessions must share one model");
    for (Session::Impl* other : seqs)
      if (other == &s) throw Error(ErrorKind::Usage, "decode_batch: a session appears twice");
    s.check(tokens[i]);
    seqs.push_back(&s);
    spans.emplace_back(tokens[i]);
  }
  return forward_batch(seqs, spans, all_logits);
}

int Session::n_past() const { return impl_->n_past; }
int Session::n_ctx() const { return impl_->n_ctx; }
void Session::clear() { impl_->n_past = 0; }
const Model& Session::model() const { return *impl_->model; }

}  // namespace qkv
