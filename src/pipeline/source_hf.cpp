// A Hugging Face model as a pipeline source: each checkpoint tensor under its
// GGUF name and shape, converted to float32 (and permuted or transposed for
// GGUF where the architecture needs it) only when it is read.
#include <fstream>
#include <nlohmann/json.hpp>

#include "convert/hparams.h"
#include "convert/source.h"
#include "convert/tokenizer_meta.h"
#include "convert/transform.h"
#include "pipeline/sources.h"
#include "qkv/error.h"
#include "qkv/file.h"

namespace qkv::pipeline {
namespace {

namespace fs = std::filesystem;
using convert::Transform;

struct Item {
  const CheckpointTensor* src = nullptr;  // null for generated tensors (rope_freqs)
  Transform transform = Transform::None;
  std::vector<float> generated;
};

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) throw Error(ErrorKind::IO, "cannot read (a Hugging Face model needs config.json)", p.string());
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), p.string());
  }
}

std::vector<uint64_t> reversed(const std::vector<uint64_t>& torch_shape) {
  if (torch_shape.empty()) return {1};
  return {torch_shape.rbegin(), torch_shape.rend()};
}

class HfSource final : public Source {
 public:
  HfSource(const std::string& path, const std::string& name) : ws_(convert::WeightSource::open(path)) {
    path_ = path;
    const fs::path folder = ws_.folder();
    const auto config = read_json(folder / "config.json");
    h_ = convert::read_hf_config(config, (folder / "config.json").string());
    map_tensors();
    const std::string model_name = name.empty() ? fs::absolute(folder).lexically_normal().filename().string() : name;
    convert::add_hparams_metadata(h_, model_name, md_);
    convert::add_tokenizer_metadata(folder, h_.gguf.n_vocab, md_);
  }
  std::string_view kind() const override { return "hf"; }
  const gguf::Metadata& metadata() const override { return md_; }
  const std::vector<gguf::TensorInfo>& tensors() const override { return infos_; }
  std::span<const uint8_t> bytes(size_t) const override { return {}; }
  bool reads_whole(size_t i) const override { return items_[i].transform != Transform::None || !items_[i].src; }
  size_t skipped() const override { return skipped_; }

  void read_rows(size_t i, uint64_t row, uint64_t n, float* out, int) const override {
    const Item& it = items_[i];
    const uint64_t cols = infos_[i].shape[0];
    if (reads_whole(i)) {
      const std::vector<float> f = load(i);
      std::copy(f.begin() + ptrdiff_t(row * cols), f.begin() + ptrdiff_t((row + n) * cols), out);
      return;
    }
    // Rows straight from the mapped checkpoint: the largest tensors
    // (embeddings) never exist in float32 whole.
    const uint64_t row_src = cols * dtype_size(it.src->dtype);
    CheckpointTensor part = *it.src;
    part.shape = {n, cols};
    part.data = it.src->data.subspan(row * row_src, n * row_src);
    to_f32(part, std::span<float>(out, n * cols));
    release_mapped_pages(part.data);
  }
  void release(size_t i) const override {
    if (items_[i].src) release_mapped_pages(items_[i].src->data);
  }

 private:
  // Source tensors -> GGUF tensors, by the architecture's name table.
  void map_tensors() {
    const CheckpointTensor* output = nullptr;
    bool have_embd = false;
    for (const auto* t : ws_.tensors()) {
      bool skip = false;
      const auto m = convert::map_tensor_name(*h_.arch, t->name, &skip);
      if (skip) {
        ++skipped_;
        continue;
      }
      if (!m)
        throw Error(ErrorKind::Unsupported, "has no GGUF counterpart for architecture " + std::string(h_.arch->hf_arch) +
                                                "; is this the right config.json?", ws_.folder().string(), t->name);
      std::vector<uint64_t> torch_shape = t->shape;
      if (m->transform == Transform::Transpose && torch_shape.size() == 2) std::swap(torch_shape[0], torch_shape[1]);
      add(m->name, reversed(torch_shape), {t, m->transform, {}});
      if (m->name == "output.weight") output = t;
      if (m->name == "token_embd.weight") have_embd = true;
    }
    // Tied embeddings stored only as lm_head: the GGUF needs token_embd, and no output.
    const ptrdiff_t out = find("output.weight");
    if (!have_embd && output) {
      infos_[size_t(out)].name = "token_embd.weight";
    } else if (have_embd && output && h_.tied_embeddings) {
      infos_.erase(infos_.begin() + out);
      items_.erase(items_.begin() + out);
    }
    if (!h_.rope_freqs.empty()) add("rope_freqs.weight", {h_.rope_freqs.size()}, {nullptr, Transform::None, h_.rope_freqs});
  }

  void add(std::string name, std::vector<uint64_t> shape, Item item) {
    infos_.push_back({std::move(name), std::move(shape), TensorType::F32, 0});
    items_.push_back(std::move(item));
  }

  // Float32 data of a tensor in PyTorch order, transformed for GGUF.
  std::vector<float> load(size_t i) const {
    const Item& it = items_[i];
    if (!it.src) return it.generated;
    std::vector<float> v = to_f32(*it.src);
    const auto& s = it.src->shape;
    const uint64_t rows = s.empty() ? 1 : s[0];
    const uint64_t cols = rows ? v.size() / rows : 0;
    const uint32_t heads = it.transform == Transform::PermuteQ ? h_.gguf.n_head : h_.gguf.n_head_kv;
    try {
      convert::apply_transform(it.transform, v, rows, cols, heads);
    } catch (const Error& e) {
      throw Error(e.kind(), e.message(), it.src->name, infos_[i].name);
    }
    return v;
  }

  convert::WeightSource ws_;
  convert::HfConfig h_;
  gguf::Metadata md_;
  std::vector<gguf::TensorInfo> infos_;
  std::vector<Item> items_;
  size_t skipped_ = 0;
};

}  // namespace

std::unique_ptr<Source> open_hf_source(const std::string& path, const std::string& name) {
  return std::make_unique<HfSource>(path, name);
}

}  // namespace qkv::pipeline
