// Loading a GGUF model for inference: hyperparameters from metadata, weight
// views by llama.cpp's tensor names, shapes checked against the config.
#include "qkv/model.h"

#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/pipeline.h"
#include "runtime/repack.h"

namespace qkv {
namespace {

constexpr const char* kSupported = "llama, mistral, qwen2, qwen3, phi3, gpt2";

}  // namespace

ModelConfig ModelConfig::from_gguf(const gguf::File& f) { return from_metadata(f.metadata(), f.path()); }

ModelConfig ModelConfig::from_metadata(const gguf::Metadata& md, const std::string& path) {
  const std::string arch = md.get_string("general.architecture");
  if (arch != "llama" && arch != "mistral" && arch != "qwen2" && arch != "qwen3" && arch != "phi3" && arch != "gpt2")
    throw Error(ErrorKind::Unsupported, "architecture '" + arch + "' cannot be run; supported: " + std::string(kSupported),
                path);
  for (const char* key : {"embedding_length", "block_count", "attention.head_count", "feed_forward_length"})
    if (!md.find(arch + "." + key)) throw Error(ErrorKind::Format, "missing metadata key '" + arch + "." + key + "'", path);
  ModelConfig c;
  static_cast<Hparams&>(c) = Hparams::from_metadata(md);
  if (c.arch == "gpt2") {
    c.norm = NormType::Layer;
    c.gelu_mlp = true;
  }
  if (c.arch == "qwen2" || c.arch == "qwen3" || c.arch == "phi3") c.rope = RopeType::Neox;
  if (c.n_head == 0 || c.n_head_kv == 0 || c.n_head % c.n_head_kv != 0 || c.head_dim == 0 || c.n_rot > c.head_dim)
    throw Error(ErrorKind::Format, "inconsistent attention head counts or sizes", path);
  return c;
}

std::shared_ptr<const Model> Model::load(const std::string& path, LoadOptions options) {
  bool mapped = false;  // a .qkv is decompressed into memory instead
  auto m = std::shared_ptr<Model>(new Model(pipeline::open_gguf(path, 0, &mapped)));
  m->config_ = ModelConfig::from_gguf(m->file_);
  const ModelConfig& c = m->config_;
  const gguf::File& f = m->file_;

  auto weight = [&](const std::string& name, std::initializer_list<uint64_t> shape, bool required) -> Weight {
    const gguf::TensorInfo* t = f.find_tensor(name);
    if (!t) {
      if (required) throw Error(ErrorKind::Format, "the model has no tensor '" + name + "'", path);
      return {};
    }
    const std::vector<uint64_t> want(shape);
    std::vector<uint64_t> got = t->shape;
    while (got.size() > want.size() && got.back() == 1) got.pop_back();
    if (got != want) {
      std::string w, g;
      for (auto d : want) w += (w.empty() ? "" : " x ") + std::to_string(d);
      for (auto d : t->shape) g += (g.empty() ? "" : " x ") + std::to_string(d);
      throw Error(ErrorKind::Format, "shape is " + g + ", the config implies " + w, path, name);
    }
    const auto bytes = f.tensor_data(static_cast<size_t>(t - f.tensors().data()));
    Weight w{t->type, bytes.data(), t->shape[0], t->n_elements() / t->shape[0]};
    w.name = t->name.c_str();
    return w;
  };

  const uint64_t d = c.n_embd, q_dim = uint64_t(c.n_head) * c.head_dim, kv_dim = uint64_t(c.n_head_kv) * c.head_dim;
  {  // the vocabulary size comes from the embedding matrix
    const gguf::TensorInfo* t = f.find_tensor("token_embd.weight");
    if (!t || t->shape.size() < 2) throw Error(ErrorKind::Format, "the model has no 2-D tensor 'token_embd.weight'", path);
    m->config_.n_vocab = static_cast<uint32_t>(t->shape[1]);
  }
  const uint64_t V = m->config_.n_vocab;
  m->token_embd = weight("token_embd.weight", {d, V}, true);
  m->output_norm = weight("output_norm.weight", {d}, true);
  m->output_norm_b = weight("output_norm.bias", {d}, false);
  m->output = weight("output.weight", {d, V}, false);
  if (!m->output) m->output = m->token_embd;  // tied embeddings
  if (c.arch == "gpt2") m->pos_embd = weight("position_embd.weight", {d, c.n_ctx_train}, true);
  m->rope_freqs = weight("rope_freqs.weight", {c.n_rot / 2}, false);

  for (uint32_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights L;
    L.attn_norm = weight(p + "attn_norm.weight", {d}, true);
    L.attn_norm_b = weight(p + "attn_norm.bias", {d}, false);
    if (f.find_tensor(p + "attn_qkv.weight")) {
      L.wqkv = weight(p + "attn_qkv.weight", {d, q_dim + 2 * kv_dim}, true);
      L.bqkv = weight(p + "attn_qkv.bias", {q_dim + 2 * kv_dim}, false);
    } else {
      L.wq = weight(p + "attn_q.weight", {d, q_dim}, true);
      L.wk = weight(p + "attn_k.weight", {d, kv_dim}, true);
      L.wv = weight(p + "attn_v.weight", {d, kv_dim}, true);
      L.bq = weight(p + "attn_q.bias", {q_dim}, false);
      L.bk = weight(p + "attn_k.bias", {kv_dim}, false);
      L.bv = weight(p + "attn_v.bias", {kv_dim}, false);
    }
    L.wo = weight(p + "attn_output.weight", {q_dim, d}, true);
    L.bo = weight(p + "attn_output.bias", {d}, false);
    L.q_norm = weight(p + "attn_q_norm.weight", {c.head_dim}, false);
    L.k_norm = weight(p + "attn_k_norm.weight", {c.head_dim}, false);
    L.ffn_norm = weight(p + "ffn_norm.weight", {d}, true);
    L.ffn_norm_b = weight(p + "ffn_norm.bias", {d}, false);
    if (c.gelu_mlp) {
      L.w_up = weight(p + "ffn_up.weight", {d, c.n_ff}, true);
    } else if (f.find_tensor(p + "ffn_gate.weight")) {
      L.w_gate = weight(p + "ffn_gate.weight", {d, c.n_ff}, true);
      L.w_up = weight(p + "ffn_up.weight", {d, c.n_ff}, true);
    } else {  // phi3 fuses gate and up into one [d, 2*n_ff] matrix
      L.w_up = weight(p + "ffn_up.weight", {d, 2 * uint64_t(c.n_ff)}, true);
    }
    L.b_up = weight(p + "ffn_up.bias", {c.n_ff}, false);
    L.w_down = weight(p + "ffn_down.weight", {c.n_ff, d}, true);
    L.b_down = weight(p + "ffn_down.bias", {d}, false);
    m->layers.push_back(L);
  }
  if (options.repack) m->repack(mapped);
  return m;
}

void Model::repack(bool mapped) {
  std::vector<Weight*> matrices;
  for (auto& L : layers)
    for (Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) matrices.push_back(w);
  if (output.data != token_embd.data) matrices.push_back(&output);  // a tied embedding is read by rows
  for (Weight* w : matrices) {
    if (!*w || !ops::can_interleave(*w)) continue;
    interleaved_.push_back(ops::interleave(*w));
    w->interleaved = interleaved_.back().get();
    // The plain rows now interleaved are not read again: let the kernel drop
    // their pages, which it re-reads from the file if anything does. (A .qkv
    // model's weights are in memory, where dropped pages would read as zeros.)
    const uint64_t groups = w->rows / ops::kInterleave;
    if (mapped) release_mapped_pages({w->data, groups * ops::kInterleave * w->row_size()});
  }
}

}  // namespace qkv
