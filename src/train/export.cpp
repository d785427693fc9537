// A trained model as a GGUF "llama" (the keys src/model/model.cpp reads,
// F32 tensors under their GGUF names), and the way back: a GGUF llama's
// shape and weights into a Transformer (checkpoints; later, fine-tuning).
#include <cstring>

#include "qkv/error.h"
#include "qkv/model.h"
#include "qkv/quant.h"
#include "qkv/train.h"
#include "train/layout.h"

namespace qkv::train {

Hparams to_hparams(const Shape& s) {
  Hparams h;
  h.arch = "llama";
  h.n_vocab = uint32_t(s.vocab), h.n_ctx_train = uint32_t(s.ctx), h.n_embd = uint32_t(s.dim);
  h.n_layer = uint32_t(s.layers), h.n_ff = uint32_t(s.ffn), h.n_head = uint32_t(s.heads);
  h.n_head_kv = uint32_t(s.kv_heads), h.head_dim = h.n_rot = uint32_t(s.head_dim());
  h.rope_base = s.rope_base, h.norm_eps = s.norm_eps;
  return h;
}

gguf::Metadata model_metadata(const Shape& s, const Vocab& vocab, const std::string& name) {
  using gguf::Value;
  gguf::Metadata md;
  md.set("general.architecture", Value::string("llama"));
  md.set("general.name", Value::string(name));
  md.set("general.file_type", Value::u32(0));  // all F32
  to_hparams(s).to_metadata(md);
  for (const auto& [key, value] : vocab.metadata().entries()) md.set(key, value);
  return md;
}

void export_gguf(const std::string& path, const Transformer& model, const Vocab& vocab, const std::string& name) {
  if (vocab.n_vocab() != model.shape().vocab)
    throw Error(ErrorKind::Usage, "the vocabulary has " + std::to_string(vocab.n_vocab()) + " tokens, the model " +
                                      std::to_string(model.shape().vocab));
  std::vector<gguf::TensorInfo> infos;
  for (const auto& t : model.tensors()) infos.push_back({t.name, gguf_shape(t), TensorType::F32, 0});
  gguf::Writer w(path, model_metadata(model.shape(), vocab, name), infos);
  for (const auto& t : model.tensors()) {
    const float* p = model.params().data() + t.offset;
    w.write_tensor({reinterpret_cast<const uint8_t*>(p), size_t(t.size()) * sizeof(float)});
  }
  w.finish();
}

Shape shape_of(const pipeline::Source& f) {
  const ModelConfig c = ModelConfig::from_metadata(f.metadata(), f.path());
  if (c.arch != "llama")
    throw Error(ErrorKind::Unsupported, "the trainer builds llama models, not '" + c.arch + "'", f.path());
  if (c.head_dim * c.n_head != c.n_embd || c.n_rot != c.head_dim || c.rope_scale != 1.0f ||
      f.find("rope_freqs.weight") >= 0)
    throw Error(ErrorKind::Unsupported,
                "the trainer's llama rotates whole heads of dim / heads values without RoPE scaling", f.path());
  const ptrdiff_t embd = f.find("token_embd.weight");
  if (embd < 0 || f.tensors()[size_t(embd)].shape.size() != 2)
    throw Error(ErrorKind::Format, "the model has no 2-D tensor 'token_embd.weight'", f.path());
  Shape s;
  s.vocab = int32_t(f.tensors()[size_t(embd)].shape[1]);
  s.dim = int32_t(c.n_embd), s.layers = int32_t(c.n_layer), s.heads = int32_t(c.n_head);
  s.kv_heads = int32_t(c.n_head_kv), s.ffn = int32_t(c.n_ff), s.ctx = int32_t(c.n_ctx_train);
  s.norm_eps = c.norm_eps, s.rope_base = c.rope_base;
  s.tied = f.find("output.weight") < 0;
  s.validate();
  return s;
}

Shape shape_of(const gguf::File& f) { return shape_of(*pipeline::Source::of(f)); }

void read_params(const pipeline::Source& f, Transformer& model) {
  for (const auto& t : model.tensors()) {
    const ptrdiff_t i = f.find(t.name);
    if (i < 0) throw Error(ErrorKind::Format, "the model has no tensor '" + t.name + "'", f.path());
    if (f.tensors()[size_t(i)].shape != gguf_shape(t))
      throw Error(ErrorKind::Format, "shape differs from the one the model's hyperparameters imply", f.path(), t.name);
    f.read_rows(size_t(i), 0, uint64_t(t.rows), model.params().data() + t.offset, model.threads());
    f.release(size_t(i));
  }
}

void read_params(const gguf::File& f, Transformer& model) { read_params(*pipeline::Source::of(f), model); }

}  // namespace qkv::train
