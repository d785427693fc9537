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
  const auto r = writes_hf(a.out) ? convert_to_hf(a.src, a.out, o) : convert_to_gguf(a.src, a.out, o);
  std::printf("%s -> %s: %s, %s, %zu tensors (%zu non-weights skipped), %.2f MB, %.3f bits per weight, %.2f s\n",
              a.src.c_str(), a.out.c_str(), r.architecture.c_str(), r.file_type.c_str(), r.tensors, r.skipped,
              r.file_bytes / 1e6, r.bits_per_weight(), r.seconds);
  return 0;
}

}  // namespace

Runner add_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Convert a Hugging Face folder or PyTorch checkpoint to GGUF, or back");
  cmd->footer(
      "One streaming pass from the source's mmap through the quantizer into the GGUF writer: no Python,\n"
      "no intermediate 16-bit file. Architectures: llama, mistral, qwen2, qwen3, phi3, gpt2.\n"
      "The input format is decided from the file's bytes (safetensors, torch zip or legacy, GGUF).\n\n"
      "An output ending in / (or an existing folder) is a Hugging Face folder for PyTorch and transformers:\n"
      "model.safetensors in F16 (or --type BF16 / F32), config.json, generation_config.json and the\n"
      "tokenizer. From a GGUF the weights are dequantized and un-permuted back to the HF layout and the\n"
      "config and tokenizer are rebuilt from its metadata (tokenizer.model for SentencePiece vocabularies,\n"
      "tokenizer.json for byte-level BPE); from a HF folder or torch checkpoint they are re-saved as\n"
      "safetensors. An output ending in .safetensors gets the weights alone.\n\n"
      "Examples:\n  qkv convert ./Llama-3.2-1B -o llama-1b-q4km.gguf --type Q4_K_M\n"
      "  qkv convert ./my-model/pytorch_model.bin -o model-f16.gguf        (config.json beside it)\n"
      "  qkv convert model-q4_k_m.gguf -o ./model-hf/ --type BF16          (back to PyTorch)\n"
      "  qkv convert ./my-model/pytorch_model.bin -o model.safetensors     (pickle to safetensors)");
  auto a = std::make_shared<Args>();
  cmd->add_option("SRC", a->src, "HF model folder, a checkpoint file with config.json beside it, or a GGUF")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("-o,--output", a->out, "Output GGUF, HF folder (DIR/) or .safetensors, written atomically")
      ->required();
  cmd->add_option("--type,--outtype", a->opts.type,
                  "F32, F16, BF16, Q8_0, Q4_K_M ... any type or file type (HF output: F32, F16, BF16)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", a->opts.threads, "Threads (default: all cores)");
  cmd->add_option("--name", a->name, "general.name (default: the folder's name)");
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
