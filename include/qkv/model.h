// A model loaded for inference: its hyperparameters and views of its weights,
// which stay in their on-disk (possibly quantized) form inside the mmap.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "qkv/gguf.h"
#include "qkv/hparams.h"

namespace qkv {

enum class RopeType { Normal, Neox };  // adjacent pairs (llama) / split halves (qwen2, phi3, gpt-neox)
enum class NormType { RMS, Layer };

// The hyperparameters (qkv/hparams.h) of a model the runtime can run, and
// what its architecture implies for the forward pass.
struct ModelConfig : Hparams {
  RopeType rope = RopeType::Normal;
  NormType norm = NormType::RMS;
  bool gelu_mlp = false;  // gpt2: up -> gelu -> down; others: SwiGLU
  static ModelConfig from_gguf(const gguf::File& f);
  // Throws (Unsupported) for an architecture the runtime cannot run and
  // (Format) for a missing required key or inconsistent heads; `path` names the file.
  static ModelConfig from_metadata(const gguf::Metadata& md, const std::string& path);
};

// A 1-D or 2-D weight: `rows` rows of `cols` elements, stored as `type`.
// `interleaved`, when set, holds the first rows / 16 * 16 rows regrouped for
// the matrix products (runtime/repack.h); their plain bytes in `data` are
// then no longer read by the forward pass.
struct Weight {
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  uint64_t cols = 0, rows = 0;
  const uint8_t* interleaved = nullptr;
  const char* name = nullptr;  // the GGUF tensor's name (owned by the model's file)
  explicit operator bool() const { return data != nullptr; }
  uint64_t row_size() const { return row_bytes(type, cols); }
};

struct LayerWeights {
  Weight attn_norm, attn_norm_b, wq, wk, wv, wo, bq, bk, bv, bo, q_norm, k_norm;
  Weight wqkv, bqkv;  // fused (gpt2, phi3): rows [q | k | v], read as three row ranges
  Weight ffn_norm, ffn_norm_b, w_gate, w_up, w_down, b_up, b_down;
};

struct LoadOptions {
  // Regroup the rows of the matrices that have an interleaved kernel on this
  // CPU (runtime/repack.h), releasing their mmap'd pages: about the same
  // memory, faster products. Off: the weights are read in place.
  bool repack = true;
};

class Model {
 public:
  // Loads a GGUF model (mmap'd), or a .qkv holding one (decompressed into memory);
  // throws for an unknown architecture or a missing tensor.
  static std::shared_ptr<const Model> load(const std::string& path, LoadOptions options = {});

  const ModelConfig& config() const { return config_; }
  const gguf::File& file() const { return file_; }
  Weight token_embd, pos_embd, output_norm, output_norm_b, output, rope_freqs;
  std::vector<LayerWeights> layers;

 private:
  explicit Model(gguf::File f) : file_(std::move(f)) {}
  void repack(bool mapped);
  gguf::File file_;
  ModelConfig config_;
  std::vector<std::shared_ptr<uint8_t>> interleaved_;  // owns Weight::interleaved
};

}  // namespace qkv
