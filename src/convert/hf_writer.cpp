// `qkv convert ... -o DIR/` or `-o FILE.safetensors`: weights for PyTorch and
// transformers. From a GGUF the tensors are dequantized, renamed back to the
// HF names and un-permuted (llama's Q/K rows, GPT-2's Conv1D transposes), with
// config.json and the tokenizer files rebuilt from the metadata; from a HF
// folder or torch checkpoint the tensors keep their names and are re-saved in
// the requested dtype, with the folder's config and tokenizer files copied.
#include <chrono>

#include "convert/hf_export.h"
#include "convert/source.h"
#include "convert/transform.h"
#include "qkv/convert.h"
#include "qkv/detect.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/fp16.h"
#include "qkv/model.h"
#include "qkv/progress.h"
#include "qkv/quant.h"

namespace qkv {
namespace {

namespace fs = std::filesystem;
using convert::Transform;

// The Hugging Face files that are not weights, copied as they are.
constexpr const char* kSideFiles[] = {
    "config.json",      "generation_config.json", "tokenizer.json",      "tokenizer_config.json",
    "tokenizer.model",  "special_tokens_map.json", "added_tokens.json",  "vocab.json",
    "merges.txt",       "chat_template.jinja",
};

DType output_dtype(const std::string& type, const std::string& out) {
  if (type == "F32" || type == "f32") return DType::F32;
  if (type == "F16" || type == "f16") return DType::F16;
  if (type == "BF16" || type == "bf16") return DType::BF16;
  throw Error(ErrorKind::Usage,
              "a Hugging Face output holds F32, F16 or BF16 weights, not " + type + "; pass --type F16, BF16 or F32",
              out);
}

const char* torch_dtype_name(DType d) {
  return d == DType::F32 ? "float32" : d == DType::BF16 ? "bfloat16" : "float16";
}

// Floats -> the output dtype's bytes.
void encode(const std::vector<float>& f, DType d, std::vector<uint8_t>& out) {
  out.resize(f.size() * dtype_size(d));
  if (d == DType::F32) std::memcpy(out.data(), f.data(), out.size());
  if (d == DType::F16) fp32_to_fp16_row(f.data(), reinterpret_cast<uint16_t*>(out.data()), f.size());
  if (d == DType::BF16) fp32_to_bf16_row(f.data(), reinterpret_cast<uint16_t*>(out.data()), f.size());
}

bool is_float(DType d) { return d == DType::F64 || d == DType::F32 || d == DType::F16 || d == DType::BF16 ||
                                d == DType::F8_E4M3 || d == DType::F8_E5M2; }

struct Target {
  fs::path weights;  // the .safetensors file
  fs::path folder;   // where side files go; empty for a lone .safetensors
};

Target target_of(const std::string& out) {
  if (out.ends_with(".safetensors")) return {out, {}};
  fs::create_directories(out);
  return {fs::path(out) / "model.safetensors", out};
}

struct Planned {
  std::string hf_name;
  size_t gguf_index;
  Transform transform;
};

ConvertReport from_gguf(const std::string& src, const Target& t, DType dtype, const ConvertOptions& opts) {
  ConvertReport rep;
  const gguf::File f = gguf::File::open(src);
  const std::string arch_name = f.metadata().get_string("general.architecture");
  const convert::ArchSpec* arch = convert::find_arch_for_gguf(arch_name);
  if (!arch)
    throw Error(ErrorKind::Unsupported, "GGUF architecture '" + arch_name + "' has no Hugging Face mapping here; " +
                                            "supported: " + convert::supported_archs(), src);
  const ModelConfig c = ModelConfig::from_gguf(f);
  rep.architecture = std::string(arch->hf_arch);
  rep.file_type = dtype_name(dtype);

  std::vector<Planned> plan;
  std::vector<safetensors::TensorSpec> specs;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& ti = f.tensors()[i];
    const auto m = convert::map_gguf_name(*arch, ti.name);
    if (!m) {  // rope_freqs and the like are derived from config.json on the way in
      ++rep.skipped;
      continue;
    }
    if (!quant::can_dequantize(ti.type))
      throw Error(ErrorKind::Unsupported, "tensor type " + std::string(type_name(ti.type)) + " cannot be dequantized",
                  src, ti.name);
    std::vector<uint64_t> shape(ti.shape.rbegin(), ti.shape.rend());  // PyTorch order
    if (m->transform == Transform::Transpose && shape.size() == 2) std::swap(shape[0], shape[1]);
    plan.push_back({m->name, i, m->transform});
    specs.push_back({m->name, dtype, shape});
  }
  const bool tied = !f.find_tensor("output.weight");

  safetensors::Writer writer(t.weights.string(), specs, {{"format", "pt"}});
  uint64_t total = 0;
  for (const auto& p : plan) total += f.tensors()[p.gguf_index].n_elements() * 4;
  Progress progress("export " + rep.file_type, total);
  std::vector<float> floats;
  std::vector<uint8_t> bytes;
  for (const auto& p : plan) {
    const auto& ti = f.tensors()[p.gguf_index];
    if (opts.progress) progress.set_note(ti.name);
    const uint64_t cols = ti.shape[0], rows = ti.n_elements() / std::max<uint64_t>(cols, 1);
    floats.resize(ti.n_elements());
    quant::dequantize(ti.type, f.tensor_data(p.gguf_index).data(), floats.data(), static_cast<int64_t>(rows),
                      static_cast<int64_t>(cols), opts.threads);
    try {
      convert::undo_transform(p.transform, floats, rows, cols, p.transform == Transform::PermuteQ ? c.n_head : c.n_head_kv);
    } catch (const Error& e) {
      throw Error(e.kind(), e.message(), src, ti.name);
    }
    encode(floats, dtype, bytes);
    writer.write_tensor(bytes);
    rep.elements += floats.size();
    rep.bytes_out += bytes.size();
    if (opts.progress) progress.add(floats.size() * 4);
  }
  writer.finish();
  progress.finish();
  rep.tensors = plan.size();

  if (!t.folder.empty()) {
    const auto config = convert::hf_config(f, *arch, tied, torch_dtype_name(dtype));
    write_file((t.folder / "config.json").string(), config.dump(2) + "\n");
    nlohmann::json gen = {{"_from_model_config", true}};
    for (const char* k : {"bos_token_id", "eos_token_id", "pad_token_id"})
      if (config.contains(k)) gen[k] = config[k];
    write_file((t.folder / "generation_config.json").string(), gen.dump(2) + "\n");
    std::string why;
    if (convert::write_hf_tokenizer(f.metadata(), t.folder, &why).empty())
      std::fprintf(stderr, "qkv: warning: no tokenizer written (%s); copy the original tokenizer files beside %s\n",
                   why.c_str(), t.weights.string().c_str());
  }
  return rep;
}

ConvertReport from_checkpoint(const std::string& src, const Target& t, DType dtype, const ConvertOptions& opts) {
  ConvertReport rep;
  const fs::path path(src);
  const auto ws = convert::WeightSource::open(path);
  rep.architecture = "pytorch";
  rep.file_type = dtype_name(dtype);
  std::vector<safetensors::TensorSpec> specs;
  uint64_t total = 0;
  for (const auto* ct : ws.tensors()) {
    // Floats take the requested dtype; integer and bool buffers stay as they are.
    specs.push_back({ct->name, is_float(ct->dtype) ? dtype : ct->dtype, ct->shape});
    total += ct->data.size();
  }
  safetensors::Writer writer(t.weights.string(), specs, {{"format", "pt"}});
  Progress progress("export " + rep.file_type, total);
  std::vector<uint8_t> bytes;
  for (const auto* ct : ws.tensors()) {
    if (opts.progress) progress.set_note(ct->name);
    if (is_float(ct->dtype)) {
      encode(to_f32(*ct), dtype, bytes);
      writer.write_tensor(bytes);
      rep.bytes_out += bytes.size();
    } else {
      writer.write_tensor(ct->data);
      rep.bytes_out += ct->data.size();
    }
    release_mapped_pages(ct->data);
    rep.elements += ct->n_elements();
    if (opts.progress) progress.add(ct->data.size());
  }
  writer.finish();
  progress.finish();
  rep.tensors = ws.tensors().size();
  if (!t.folder.empty()) {
    const fs::path from = fs::is_directory(path) ? path : path.parent_path();
    for (const char* name : kSideFiles)
      if (fs::is_regular_file(from / name) && !fs::equivalent(from, t.folder))
        fs::copy_file(from / name, t.folder / name, fs::copy_options::overwrite_existing);
  }
  return rep;
}

}  // namespace

bool writes_hf(const std::string& out) {
  return out.ends_with(".safetensors") || out.ends_with("/") || fs::is_directory(out);
}

ConvertReport convert_to_hf(const std::string& src, const std::string& out, const ConvertOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  const DType dtype = output_dtype(opts.type, out);
  const bool gguf_in = !fs::is_directory(src) && detect_format(src) == FileFormat::GGUF;
  const Target t = target_of(out);
  ConvertReport rep = gguf_in ? from_gguf(src, t, dtype, opts) : from_checkpoint(src, t, dtype, opts);
  rep.file_bytes = fs::file_size(t.weights);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

}  // namespace qkv
