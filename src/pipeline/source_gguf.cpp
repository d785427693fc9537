// The pipeline's sources, and the one place a model file's format is sniffed:
// a GGUF (or the GGUF a .qkv holds) read as it is; anything else is a
// Hugging Face source (source_hf.cpp).
#include <filesystem>

#include "pipeline/sources.h"
#include "qkv/detect.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/qkv_file.h"
#include "qkv/quant.h"

namespace qkv::pipeline {
namespace {

class GgufSource final : public Source {
 public:
  GgufSource(const std::string& path, gguf::File f, bool packed) : file_(std::move(f)), packed_(packed) { path_ = path; }
  std::string_view kind() const override { return packed_ ? "qkv" : "gguf"; }
  const gguf::Metadata& metadata() const override { return file_.metadata(); }
  const std::vector<gguf::TensorInfo>& tensors() const override { return file_.tensors(); }
  std::span<const uint8_t> bytes(size_t i) const override { return file_.tensor_data(i); }
  void read_rows(size_t i, uint64_t row, uint64_t n, float* out, int threads) const override {
    const auto& t = file_.tensors()[i];
    if (!quant::can_dequantize(t.type))
      throw Error(ErrorKind::Unsupported, "cannot read " + std::string(type_name(t.type)) + " yet", path_, t.name);
    const uint64_t cols = t.shape[0], stride = row_bytes(t.type, cols);
    quant::dequantize(t.type, file_.tensor_data(i).data() + row * stride, out, int64_t(n), int64_t(cols), threads);
  }
  void release(size_t i) const override {
    if (!packed_) release_mapped_pages(file_.tensor_data(i));
  }

 private:
  gguf::File file_;
  bool packed_;  // decompressed from a .qkv into memory
};

}  // namespace

void Source::read_all(size_t i, std::vector<float>& out, int threads) const {
  const auto& t = tensors()[i];
  out.resize(t.n_elements());
  read_rows(i, 0, t.n_elements() / t.shape[0], out.data(), threads);
}

ptrdiff_t Source::find(std::string_view name) const {
  for (size_t i = 0; i < tensors().size(); ++i)
    if (tensors()[i].name == name) return ptrdiff_t(i);
  return -1;
}

gguf::File open_gguf(const std::string& path, int threads, bool* mapped) {
  const FileFormat f = detect_format(path);
  if (mapped) *mapped = f == FileFormat::GGUF;
  if (f == FileFormat::GGUF) return gguf::File::open(path);
  if (f == FileFormat::Qkv) return qkvfile::load_gguf(path, threads);
  throw Error(ErrorKind::Format, "is a " + std::string(format_name(f)) + ", not a GGUF: convert it first (qkv convert " +
                                     path + " -o model.gguf)", path);
}

std::unique_ptr<Source> Source::of(gguf::File f) {
  const std::string path = f.path();
  return std::make_unique<GgufSource>(path, std::move(f), false);
}

std::unique_ptr<Source> Source::open(const std::string& path, const std::string& name, int threads) {
  const FileFormat f = detect_format(path);
  if (f == FileFormat::GGUF) return std::make_unique<GgufSource>(path, gguf::File::open(path), false);
  if (f == FileFormat::Qkv) return std::make_unique<GgufSource>(path, qkvfile::load_gguf(path, threads), true);
  return open_hf_source(path, name);
}

}  // namespace qkv::pipeline
