// `qkv quantize`: the pipeline (qkv/pipeline.h) with a quantizing plan.
#include "qkv/quantize_model.h"

#include "qkv/pipeline.h"

namespace qkv::quant {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

}  // namespace

gguf::Metadata output_metadata(const gguf::Metadata& in, const FileType& ft) {
  gguf::Metadata md = in;
  // llama-quantize sets these with gguf_set_val, which moves a key to the end.
  md.erase("general.quantization_version");
  md.set("general.quantization_version", gguf::Value::u32(kQuantizationVersion));
  md.erase("general.file_type");
  md.set("general.file_type", gguf::Value::u32(ft.ftype));
  for (auto key : {"split.no", "split.count", "split.tensors.count"}) md.erase(key);
  return md;
}

QuantizeReport quantize_model(const std::string& in, const std::string& out, const QuantizeOptions& opts) {
  const auto src = pipeline::Source::open(in, {}, opts.threads);
  return pipeline::run(*src, out, {opts, {}, "quantize"});
}

}  // namespace qkv::quant
