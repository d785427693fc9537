// `qkv convert` to GGUF: the pipeline (qkv/pipeline.h) from any source to a
// file type. HF folders and torch checkpoints stream: each tensor is read
// from the mmap, converted to float32, transformed, quantized and written
// before the next one is touched.
#include "qkv/convert.h"

#include "qkv/pipeline.h"

namespace qkv {

ConvertReport convert_to_gguf(const std::string& src, const std::string& out, const ConvertOptions& opts) {
  const auto in = pipeline::Source::open(src, opts.name, opts.threads);
  pipeline::Job job;
  job.quantize.type = opts.type, job.quantize.threads = opts.threads, job.quantize.progress = opts.progress;
  job.quantize.allow_requantize = true;  // converting a quantized GGUF is asking for it
  job.verb = "convert";
  const auto r = pipeline::run(*in, out, job);
  std::string arch = "gguf";
  if (in->kind() == "hf") arch = in->metadata().get_string("general.architecture");
  return {arch, r.file_type, r.tensors.size(), in->skipped(), r.elements, r.bytes_out, r.file_bytes, r.seconds};
}

}  // namespace qkv
