// qkv quantize: llama-quantize's job, bit for bit, faster.
#include <cstdio>

#include "commands.h"
#include "qkv/error.h"
#include "qkv/quantize_model.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string in, out, type;
  int threads = 0;
  std::vector<std::string> tensor_types;
  std::string output_type, embedding_type, imatrix;
  bool pure = false, allow_requantize = false, dry_run = false;
};

TensorType parse_type(const std::string& flag, const std::string& name) {
  if (auto t = type_from_name(name)) return *t;
  throw Error(ErrorKind::Usage, flag + ": unknown tensor type '" + name + "'");
}

void print_plan(const quant::QuantizeReport& r) {
  std::printf("  %-36s %-20s %-7s    %-7s %12s %12s\n", "tensor", "shape", "from", "to", "bytes in", "bytes out");
  for (const auto& t : r.tensors) {
    std::string shape;
    for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? "x" : "") + std::to_string(t.shape[i]);
    std::printf("  %-36s %-20s %-7s -> %-7s %12llu %12llu%s%s\n", t.name.c_str(), shape.c_str(),
                std::string(type_name(t.from)).c_str(), std::string(type_name(t.to)).c_str(),
                static_cast<unsigned long long>(t.bytes_in), static_cast<unsigned long long>(t.bytes_out),
                t.fallback ? "  (fallback: row length)" : "", t.used_imatrix ? "  (imatrix)" : "");
  }
}

int run(const Args& a) {
  quant::QuantizeOptions o;
  o.type = a.type;
  o.threads = a.threads;
  o.imatrix_path = a.imatrix;
  o.allow_requantize = a.allow_requantize;
  o.dry_run = a.dry_run;
  o.plan.pure = a.pure;
  if (!a.output_type.empty()) o.plan.output_tensor_type = parse_type("--output-tensor-type", a.output_type);
  if (!a.embedding_type.empty()) o.plan.token_embedding_type = parse_type("--token-embedding-type", a.embedding_type);
  for (const auto& spec : a.tensor_types) {
    const auto eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(ErrorKind::Usage, "--tensor-type expects REGEX=TYPE, got '" + spec + "'");
    o.plan.tensor_type_overrides.emplace_back(spec.substr(0, eq), parse_type("--tensor-type", spec.substr(eq + 1)));
  }
  const auto r = quant::quantize_model(a.in, a.out, o);
  if (a.dry_run) print_plan(r);
  const double mb_in = r.bytes_in / 1e6, mb_out = r.bytes_out / 1e6;
  std::printf("%s%s: %s, %.2f MB -> %.2f MB of tensors (%.3f bits per weight), %zu tensors",
              a.dry_run ? "dry run, nothing written: " : "", a.dry_run ? a.in.c_str() : a.out.c_str(),
              r.file_type.c_str(), mb_in, mb_out, r.bits_per_weight(), r.tensors.size());
  if (a.dry_run) std::printf(", file would be %.2f MB\n", r.file_bytes / 1e6);
  else std::printf(", %.2f s (%.1f MB/s)\n", r.seconds, r.seconds > 0 ? mb_in / r.seconds : 0.0);
  return 0;
}

}  // namespace

Runner add_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Quantize a GGUF model (the same bytes llama-quantize writes)");
  cmd->footer(
      "TYPE is a llama.cpp file type (Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_0 Q4_1 Q5_0 Q5_1 Q4_K_S Q4_K_M\n"
      "Q5_K_S Q5_K_M Q6_K Q8_0 IQ4_NL IQ4_XS TQ1_0 TQ2_0 F16 BF16 F32), which picks each tensor's type\n"
      "by llama.cpp's rules, or a tensor type (Q4_K ...), which is applied to every quantizable tensor.\n\n"
      "Examples:\n  qkv quantize model-f16.gguf model-q4km.gguf Q4_K_M\n"
      "  qkv quantize model-f16.gguf out.gguf Q4_K_M --imatrix imatrix.gguf --tensor-type 'attn_v=Q8_0'\n"
      "  qkv quantize model-f16.gguf out.gguf Q3_K_M --dry-run");
  auto a = std::make_shared<Args>();
  cmd->add_option("IN", a->in, "Input GGUF (F32, F16 or BF16; quantized needs --allow-requantize)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("OUT", a->out, "Output GGUF, written atomically")->required();
  cmd->add_option("TYPE", a->type, "File type or tensor type, e.g. Q4_K_M")->required();
  cmd->add_option("NTHREADS", a->threads, "Threads (as llama-quantize's last argument)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--tensor-type", a->tensor_types, "REGEX=TYPE: tensors whose name matches get TYPE (repeatable)");
  cmd->add_option("--output-tensor-type", a->output_type, "Type for output.weight");
  cmd->add_option("--token-embedding-type", a->embedding_type, "Type for token_embd.weight");
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix from llama-imatrix (GGUF or legacy .dat)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--pure", a->pure, "Every quantizable tensor gets TYPE's default type (no mixture)");
  cmd->add_flag("--allow-requantize", a->allow_requantize, "Allow quantizing an already-quantized input");
  cmd->add_flag("--dry-run", a->dry_run, "Print the per-tensor plan and resulting size; write nothing");
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
