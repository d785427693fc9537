// HF folder / torch checkpoint -> GGUF, streaming: each tensor is read from
// the mmap, converted to float32, transformed, quantized and written before
// the next one is touched.
#include "qkv/convert.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "convert/hparams.h"
#include "convert/source.h"
#include "convert/tokenizer_meta.h"
#include "convert/transform.h"
#include "qkv/detect.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/progress.h"
#include "qkv/quant.h"

namespace qkv {
namespace {

namespace fs = std::filesystem;
using convert::Transform;

// Float32 elements converted at a time for tensors that need no transform (16 MiB).
constexpr uint64_t kSlabFloats = uint64_t{4} << 20;

struct Item {
  std::string name;                        // GGUF name
  const CheckpointTensor* src = nullptr;   // null for generated tensors (rope_freqs)
  Transform transform = Transform::None;
  std::vector<float> generated;
  std::vector<uint64_t> shape;             // GGUF order (ne[0] = row length)
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

// Source tensors -> GGUF items, by the architecture's name table.
std::vector<Item> map_tensors(const convert::WeightSource& ws, const convert::Hparams& h, size_t* skipped) {
  std::vector<Item> items;
  const CheckpointTensor* output = nullptr;
  bool have_embd = false;
  for (const auto* t : ws.tensors()) {
    bool skip = false;
    const auto m = convert::map_tensor_name(*h.arch, t->name, &skip);
    if (skip) {
      ++*skipped;
      continue;
    }
    if (!m)
      throw Error(ErrorKind::Unsupported, "has no GGUF counterpart for architecture " + std::string(h.arch->hf_arch) +
                                              "; is this the right config.json?", ws.folder().string(), t->name);
    std::vector<uint64_t> torch_shape = t->shape;
    if (m->transform == Transform::Transpose && torch_shape.size() == 2) std::swap(torch_shape[0], torch_shape[1]);
    items.push_back({m->name, t, m->transform, {}, reversed(torch_shape)});
    if (m->name == "output.weight") output = t;
    if (m->name == "token_embd.weight") have_embd = true;
  }
  // Tied embeddings stored only as lm_head: the GGUF needs token_embd, and no output.
  if (!have_embd && output) {
    for (auto& it : items)
      if (it.name == "output.weight") it.name = "token_embd.weight";
  } else if (have_embd && output && h.tied_embeddings) {
    std::erase_if(items, [](const Item& it) { return it.name == "output.weight"; });
  }
  if (!h.rope_freqs.empty())
    items.push_back({"rope_freqs.weight", nullptr, Transform::None, h.rope_freqs, {h.rope_freqs.size()}});
  return items;
}

// Float32 data of an item in PyTorch order, transformed for GGUF.
std::vector<float> load(const Item& it, const convert::Hparams& h) {
  if (!it.src) return it.generated;
  std::vector<float> v = to_f32(*it.src);
  const auto& s = it.src->shape;
  const uint64_t rows = s.empty() ? 1 : s[0];
  const uint64_t cols = rows ? v.size() / rows : 0;
  const uint32_t heads = it.transform == Transform::PermuteQ ? h.n_head : h.n_head_kv;
  try {
    convert::apply_transform(it.transform, v, rows, cols, heads);
  } catch (const Error& e) {
    throw Error(e.kind(), e.message(), it.src->name, it.name);
  }
  return v;
}

}  // namespace

ConvertReport convert_to_gguf(const std::string& src, const std::string& out, const ConvertOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path path(src);
  if (!fs::is_directory(path) && detect_format(src) == FileFormat::GGUF) {
    // GGUF in: converting is quantizing.
    quant::QuantizeOptions q;
    q.type = opts.type, q.threads = opts.threads, q.progress = opts.progress, q.allow_requantize = true;
    const auto r = quant::quantize_model(src, out, q);
    ConvertReport rep{"gguf", r.file_type, r.tensors.size(), 0, r.elements, r.bytes_out, r.file_bytes, r.seconds};
    return rep;
  }
  const fs::path folder = fs::is_directory(path) ? path : (path.has_parent_path() ? path.parent_path() : ".");
  const auto config = read_json(folder / "config.json");
  const convert::Hparams h = convert::read_hparams(config, (folder / "config.json").string());
  const auto ws = convert::WeightSource::open(path);

  ConvertReport rep;
  rep.architecture = std::string(h.arch->gguf_arch);
  auto items = map_tensors(ws, h, &rep.skipped);

  gguf::Metadata md;
  const std::string name = opts.name.empty() ? fs::absolute(folder).lexically_normal().filename().string() : opts.name;
  convert::add_hparams_metadata(h, config, name, md);
  convert::add_tokenizer_metadata(folder, h.n_vocab, md);

  std::vector<gguf::TensorInfo> infos;
  for (const auto& it : items) infos.push_back({it.name, it.shape, TensorType::F32, 0});
  quant::PlanOptions plan_opts;
  const quant::FileType& ft = quant::resolve_type_name(opts.type, plan_opts);
  rep.file_type = std::string(ft.name);
  const auto planned = quant::plan(quant::ModelShape::from_metadata(md), infos, ft, plan_opts);
  md = quant::output_metadata(md, ft);

  std::vector<gguf::TensorInfo> out_infos;
  uint64_t total_in = 0;
  for (const auto& p : planned) {
    gguf::TensorInfo o = infos[p.input_index];
    o.type = p.to;
    out_infos.push_back(o);
    rep.elements += o.n_elements();
    rep.bytes_out += o.nbytes();
    total_in += o.n_elements() * 4;
  }
  gguf::Writer writer(out, md, out_infos);
  Progress progress("convert " + rep.file_type, total_in);
  std::vector<float> slab;
  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < planned.size(); ++i) {
    const Item& it = items[planned[i].input_index];
    const auto& info = out_infos[i];
    if (opts.progress) progress.set_note(it.name);
    const uint64_t n_per_row = info.shape[0], rows = info.n_elements() / n_per_row;
    const auto quantize_rows = [&](const float* f, uint64_t n_rows) {
      buffer.resize(n_rows * row_bytes(info.type, n_per_row));
      quant::quantize(info.type, f, buffer.data(), static_cast<int64_t>(n_rows), static_cast<int64_t>(n_per_row),
                      nullptr, opts.threads);
      writer.append(buffer);
      if (opts.progress) progress.add(n_rows * n_per_row * 4);
    };
    writer.begin_tensor();
    if (it.transform != Transform::None || !it.src) {
      // Row permutations and transposes need the whole tensor (attention-sized at most).
      const std::vector<float> f = load(it, h);
      quantize_rows(f.data(), rows);
    } else {
      // Slabs of whole rows: the largest tensors (embeddings) never exist in
      // float32 at once, so memory stays bounded by the slab size.
      const uint64_t slab_rows = std::max<uint64_t>(1, kSlabFloats / n_per_row);
      const uint64_t row_src = n_per_row * dtype_size(it.src->dtype);
      for (uint64_t r = 0; r < rows; r += slab_rows) {
        const uint64_t n = std::min(slab_rows, rows - r);
        CheckpointTensor part = *it.src;
        part.shape = {n, n_per_row};
        part.data = it.src->data.subspan(r * row_src, n * row_src);
        slab.resize(n * n_per_row);
        to_f32(part, slab);
        release_mapped_pages(part.data);
        quantize_rows(slab.data(), n);
      }
    }
    writer.end_tensor();
    if (it.src) release_mapped_pages(it.src->data);  // keeps RSS at a few slabs, not the model
  }
  writer.finish();
  progress.finish();
  rep.tensors = planned.size();
  rep.file_bytes = fs::file_size(out);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

}  // namespace qkv
