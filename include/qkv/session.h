// One sequence being evaluated: a KV cache over a loaded model, and the
// forward pass that fills it. Sessions share the (read-only) model.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "qkv/model.h"

namespace qkv {
namespace ops {
class Backend;  // runtime/backend.h: what runs the matrix products and attention
}

// How attention rounds. LlamaCpp (the default) keeps the KV cache in fp16 and
// accumulates as llama.cpp's CPU flash attention does, so logits match
// llama.cpp's and the cache takes half the memory. Exact keeps everything in
// float32 (twice the cache memory), for checking against a float64 reference.
enum class AttentionPrecision { LlamaCpp, Exact };

class Session {
 public:
  // n_ctx <= 0: the model's training context, capped at 4096. threads <= 0: all cores.
  Session(std::shared_ptr<const Model> model, int n_ctx = 0, int threads = 0,
          AttentionPrecision precision = AttentionPrecision::LlamaCpp);
  // The same, with the products and attention run by `backend` (the CPU one
  // when null), e.g. one that also observes them (qkv imatrix).
  Session(std::shared_ptr<const Model> model, int n_ctx, int threads, AttentionPrecision precision,
          std::shared_ptr<ops::Backend> backend);
  ~Session();
  Session(Session&&) noexcept;

  // Evaluates `tokens` at positions n_past() ... and appends them to the
  // cache. Returns the logits of the last token (n_vocab floats), or of every
  // token (tokens.size() * n_vocab) when all_logits. Throws (Usage) when the
  // context would overflow or a token id is out of range.
  std::vector<float> decode(std::span<const int32_t> tokens, bool all_logits = false);

  int n_past() const;
  int n_ctx() const;
  void clear();  // forget every cached position
  const Model& model() const;

  struct Impl;  // opaque: KV cache and per-session state

 private:
  friend std::vector<std::vector<float>> decode_batch(std::span<Session* const>,
                                                      std::span<const std::vector<int32_t>>, bool);
  std::unique_ptr<Impl> impl_;
};

// Evaluates several sessions of the same model in one forward pass: tokens[i]
// are appended to sessions[i]. Matrix products run over all tokens together,
// so a batch costs little more than its longest member. Returns, per session,
// what Session::decode would. Results equal decoding each session alone.
std::vector<std::vector<float>> decode_batch(std::span<Session* const> sessions,
                                             std::span<const std::vector<int32_t>> tokens, bool all_logits = false);

}  // namespace qkv
