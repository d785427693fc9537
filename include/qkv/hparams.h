// A model's hyperparameters: the one struct the converter writes, the
// runtime (ModelConfig), the recipes, the budget planner and the trainer read.
// It is what the <arch>.* keys of a GGUF say, for any architecture.
#pragma once

#include <cstdint>
#include <string>

#include "qkv/gguf.h"

namespace qkv {

struct Hparams {
  std::string arch;  // GGUF's general.architecture
  uint32_t n_vocab = 0, n_ctx_train = 2048, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0;
  uint32_t head_dim = 0, n_rot = 0, n_expert = 0;
  float norm_eps = 1e-5f;  // RMS norm's, or layer norm's (gpt2)
  float rope_base = 10000.0f;
  float rope_scale = 1.0f;  // linear RoPE scaling: positions are divided by it; 1 is none

  uint32_t n_gqa() const { return n_head_kv ? n_head / n_head_kv : 0; }
  // llama with 80 layers and GQA: llama.cpp's recipes give attn_v more bits.
  bool is_70b() const { return arch == "llama" && n_layer == 80 && n_head != n_head_kv; }
  bool operator==(const Hparams&) const = default;

  // Reads whatever keys are there; an absent one keeps its default (head_count_kv:
  // head_count; key_length: n_embd / n_head; rope.dimension_count: head_dim), and a
  // per-layer array gives its first layer's value. Never throws for a missing key.
  static Hparams from_metadata(const gguf::Metadata& md);
  // Sets the <arch>.* keys llama.cpp's converter writes, in its order
  // (n_vocab last; key_length only when head_dim is not n_embd / n_head).
  void to_metadata(gguf::Metadata& md) const;
};

}  // namespace qkv
