// Attention of one query head over a sequence's cached keys and values.
//
// The fp16 path is computed as llama.cpp's CPU flash attention does (its
// default): the query rounded to fp16, each score a dot product of fp16
// values, an online softmax, and the value accumulator rounded to fp16 after
// every update. Matching its rounding keeps our logits within a hair of
// llama.cpp's; the fp16 cache halves memory. The reference (ref::) spells it
// out in scalar code, summing each score in double; the fast path sums in
// float lanes, as ggml's SIMD vec_dot_f16 does, and a test holds the two
// within a tolerance.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qkv::ops {

// K and V rows of `hd` values for positions 0..n_keys-1, `stride` elements apart.
struct KvView {
  const uint16_t* k;
  const uint16_t* v;
  size_t stride;
};

// out[hd] = softmax(q . K^T * scale) . V over n_keys >= 1 positions.
void attend_f16(const float* q, const KvView& kv, int64_t n_keys, int64_t hd, float scale, float* out);

// Float32 attention (AttentionPrecision::Exact): exact scores, a stable
// softmax (ops::softmax), float accumulation. scores: n_keys floats of scratch.
void attend_f32(const float* q, const float* k, const float* v, size_t stride, int64_t n_keys, int64_t hd,
                float scale, float* scores, float* out);

namespace ref {
void attend_f16(const float* q, const KvView& kv, int64_t n_keys, int64_t hd, float scale, float* out);
}  // namespace ref

}  // namespace qkv::ops
