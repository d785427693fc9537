// The operations of the llama forward pass and their hand-written backward
// passes. Shapes are [rows x cols] row-major; N = B * T tokens, the token t of
// sequence b being row b * T + t. Every backward that feeds the residual
// stream adds into its input gradient (the stream's gradient is a sum);
// the rest overwrite, as each says.
//
// Work is split so that every output element is computed by one thread in a
// fixed order: results never depend on the thread count, which checkpoint
// resume relies on. Where a fast path exists (linear layers and attention
// on BLAS) a plain scalar reference sits beside it in namespace ref, and a
// test holds one to the other.
#pragma once

#include <cstdint>
#include <vector>

namespace qkv::train::ops {

// y[N x O] = x[N x I] . w[O x I]^T
void linear_forward(const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* y, int threads);
// dx[N x I] = dy[N x O] . w (added to dx when accumulate_dx), dw[O x I] += dy^T . x
void linear_backward(const float* dy, const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* dx,
                     bool accumulate_dx, float* dw, int threads);

// out[n] = x[n] * rstd[n] * w, rstd[n] = 1 / sqrt(mean(x[n]^2) + eps), over N rows of C.
void rmsnorm_forward(const float* x, const float* w, int64_t N, int64_t C, float eps, float* out, float* rstd,
                     int threads);
// dx[N x C] += d(out)/dx, dw[C] += d(out)/dw.
void rmsnorm_backward(const float* dout, const float* x, const float* w, const float* rstd, int64_t N, int64_t C,
                      float* dx, float* dw, int threads);

// cos and sin of every (position, pair) angle: [T x D/2] each. The angle is
// pos * base^(-2i/D), computed as the runtime computes it.
struct RopeTable {
  int64_t T = 0, half = 0;
  std::vector<float> cos, sin;
};
RopeTable rope_table(int64_t T, int64_t D, float base);
// Rotates the adjacent pairs (2i, 2i+1) of each of `heads` heads of D values,
// in place over x [B*T x heads*D]; backward rotates the gradient back.
void rope_forward(float* x, int64_t B, int64_t T, int64_t heads, int64_t D, const RopeTable& rope, int threads);
void rope_backward(float* dx, int64_t B, int64_t T, int64_t heads, int64_t D, const RopeTable& rope, int threads);

// Causal grouped-query attention. q [N x H*D], k and v [N x K*D]; query head
// h reads key/value head h / (H/K). probs [B x H x T x T] (zero above the
// diagonal) and out [N x H*D] are written.
struct AttentionDims {
  int64_t B, T, H, K, D;
};
void attention_forward(const float* q, const float* k, const float* v, const AttentionDims& d, float* probs,
                       float* out, int threads);
// Overwrites dq [N x H*D], dk and dv [N x K*D]; scratch holds B x H x T x T floats.
void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* probs,
                        const AttentionDims& d, float* dq, float* dk, float* dv, float* scratch, int threads);

// a = silu(g) * u over n values; backward overwrites dg and du.
void swiglu_forward(const float* g, const float* u, int64_t n, float* a, int threads);
void swiglu_backward(const float* da, const float* g, const float* u, int64_t n, float* dg, float* du, int threads);

// out[n] = table[tokens[n]] for N rows of C; backward: dtable[tokens[n]] += dout[n].
void embedding_forward(const int32_t* tokens, const float* table, int64_t N, int64_t C, float* out, int threads);
void embedding_backward(const int32_t* tokens, const float* dout, int64_t N, int64_t C, float* dtable, int threads);

// Cross-entropy of N rows of V logits against targets; returns the sum of
// the N losses. The logits are overwritten with grad_scale * (softmax -
// onehot), the gradient of grad_scale * (sum of losses); pass 0 when only
// the loss is wanted.
double cross_entropy(float* logits, const int32_t* targets, int64_t N, int64_t V, float grad_scale, int threads);

// Sequence-level losses (DPO) weigh each position's log-probability on their
// own. log_softmax_at writes logp[n] = log softmax(row n)[targets[n]] and
// overwrites the rows with their softmax; logprob_backward then turns those
// into the gradient of sum_n weights[n] * logp[n]: weights[n] * (onehot - softmax).
void log_softmax_at(float* logits, const int32_t* targets, int64_t N, int64_t V, double* logp, int threads);
void logprob_backward(float* probs, const int32_t* targets, const float* weights, int64_t N, int64_t V, int threads);

namespace ref {
// Plain loops with the fast paths' contracts (attention needs no scratch).
void linear_forward(const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* y);
void linear_backward(const float* dy, const float* x, const float* w, int64_t N, int64_t I, int64_t O, float* dx,
                     bool accumulate_dx, float* dw);
void attention_forward(const float* q, const float* k, const float* v, const AttentionDims& d, float* probs,
                       float* out, int threads);
void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* probs,
                        const AttentionDims& d, float* dq, float* dk, float* dv, int threads);
}  // namespace ref

}  // namespace qkv::train::ops
