// qkv convert: Hugging Face / PyTorch checkpoints to GGUF, quantized on the way.
#include <cstdio>

#include "commands.h"
#include "qkv/convert.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string src, out, name;
  ConvertOptions opts;
};

int run(const Args& a) {
  ConvertOptions o = a.opts;
  o.name = a.name;
  const auto r = convert_to_gguf(a.src, a.out, o);
  std::printf("%s -> %s: %s, %s, %zu tensors (%zu non-weights skipped), %.2f MB, %.3f bits per weight, %.2f s\n",
              a.src.c_str(), a.out.c_str(), r.architecture.c_str(), r.file_type.c_str(), r.tensors, r.skipped,
              r.file_bytes / 1e6, r.bits_per_weight(), r.seconds);
  return 0;
}

}  // namespace

Runner add_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Convert a Hugging Face folder or PyTorch checkpoint to GGUF");
  cmd->footer(
      "One streaming pass from the source's mmap through the quantizer into the GGUF writer: no Python,\n"
      "no intermediate 16-bit file. Architectures: llama, mistral, qwen2, qwen3, phi3, gpt2.\n"
      "The input format is decided from the file's bytes (safetensors, torch zip or legacy, GGUF).\n\n"
      "Examples:\n  qkv convert ./Llama-3.2-1B -o llama-1b-q4km.gguf --type Q4_K_M\n"
      "  qkv convert ./my-model/pytorch_model.bin -o model-f16.gguf        (config.json beside it)");
  auto a = std::make_shared<Args>();
  cmd->add_option("SRC", a->src, "HF model folder, or a checkpoint file with config.json beside it")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("-o,--output", a->out, "Output GGUF, written atomically")->required();
  cmd->add_option("--type,--outtype", a->opts.type, "F32, F16, BF16, Q8_0, Q4_K_M ... any type or file type")
      ->capture_default_str();
  cmd->add_option("-t,--threads", a->opts.threads, "Threads (default: all cores)");
  cmd->add_option("--name", a->name, "general.name (default: the folder's name)");
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
