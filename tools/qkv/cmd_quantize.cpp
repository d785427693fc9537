// qkv quantize: llama-quantize's job, bit for bit, faster.
#include <cstdio>

#include "commands.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/quantize_model.h"
#include "qkv/sensitivity.h"
#include "qkv/tokenizer.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string in, out, type;
  int threads = 0;
  std::vector<std::string> tensor_types;
  std::string output_type, embedding_type, imatrix;
  bool pure = false, allow_requantize = false, dry_run = false;
  std::string target_size, target_vram;
  double target_bpw = 0;
  uint32_t ctx = 4096;
  int64_t sample_rows = 256;
  std::string calibrate;
  int calibrate_ctx = 256, calibrate_chunks = 8;
};

// "4G", "3.5G", "800M", "1234567": bytes, K/M/G in powers of 1024.
uint64_t parse_size(const std::string& flag, const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  const double scale = unit.empty() || unit == "B" ? 1 : unit == "K" || unit == "KiB" ? 1024.0
                       : unit == "M" || unit == "MiB" ? 1024.0 * 1024 : unit == "G" || unit == "GiB" ? 1024.0 * 1024 * 1024 : 0;
  if (used == 0 || scale == 0 || v <= 0)
    throw Error(ErrorKind::Usage, flag + ": expected a size such as 4G, 800M or 123456789, got '" + text + "'");
  return uint64_t(v * scale);
}

TensorType parse_type(const std::string& flag, const std::string& name) {
  if (auto t = type_from_name(name)) return *t;
  throw Error(ErrorKind::Usage, flag + ": unknown tensor type '" + name + "'");
}

void print_plan(const quant::QuantizeReport& r) {
  std::printf("  %-36s %-20s %-7s    %-7s %12s %12s\n", "tensor", "shape", "from", "to", "bytes in", "bytes out");
  for (const auto& t : r.tensors) {
    std::string shape;
    for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? "x" : "") + std::to_string(t.shape[i]);
    std::printf("  %-36s %-20s %-7s -> %-7s %12llu %12llu%s%s", t.name.c_str(), shape.c_str(),
                std::string(type_name(t.from)).c_str(), std::string(type_name(t.to)).c_str(),
                static_cast<unsigned long long>(t.bytes_in), static_cast<unsigned long long>(t.bytes_out),
                t.fallback ? "  (fallback: row length)" : "", t.used_imatrix ? "  (imatrix)" : "");
    if (r.budgeted) std::printf("  predicted error %.4g", t.predicted_error);
    std::printf("\n");
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
  const int targets = !a.target_size.empty() + (a.target_bpw > 0) + !a.target_vram.empty();
  if (targets > 1) throw Error(ErrorKind::Usage, "give one of --target-size, --target-bpw and --target-vram");
  if (targets == 0 && a.type.empty()) throw Error(ErrorKind::Usage, "give TYPE, or a budget with --target-size, --target-bpw or --target-vram");
  if (targets == 1 && !a.type.empty()) throw Error(ErrorKind::Usage, "TYPE and a --target-* budget exclude each other");
  if (!a.target_size.empty()) o.budget.file_bytes = parse_size("--target-size", a.target_size);
  if (!a.target_vram.empty()) o.budget.vram_bytes = parse_size("--target-vram", a.target_vram);
  o.budget.bpw = a.target_bpw;
  o.budget.ctx = a.ctx;
  o.sample_rows = a.sample_rows;
  std::unique_ptr<SensitivityProbe> probe;
  if (!a.calibrate.empty()) {
    if (targets == 0) throw Error(ErrorKind::Usage, "--calibrate goes with a --target-* budget");
    auto model = Model::load(a.in, {.repack = false});
    const Tokenizer tok = Tokenizer::from_gguf(model->file().metadata());
    probe = std::make_unique<SensitivityProbe>(model, tok.encode(read_file(a.calibrate), true), a.calibrate_ctx,
                                               a.calibrate_chunks, a.threads, tok.add_bos() ? tok.bos() : -1);
    o.sensitivity = [&](const std::string& name, TensorType t, std::span<const uint8_t> data) {
      return probe->kld(name, t, data);
    };
  }
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
  if (r.budgeted) {
    std::printf("planned for %.2f MB of tensors: predicted error %.6g%s\n", r.tensor_budget / 1e6, r.predicted_error,
                r.budget_capped ? " (the budget is above the largest plan, which this is)" : "");
  }
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
      "  qkv quantize model-f16.gguf out.gguf Q3_K_M --dry-run\n\n"
      "With --target-size, --target-bpw or --target-vram instead of TYPE, an adaptive planner picks each\n"
      "tensor's standard type: it quantizes a sample of each tensor's rows (--sample-rows) with every type\n"
      "that fits, measures the error each adds to the product's output (weighted by --imatrix), and\n"
      "spends the budget where it saves the most error. The output loads in llama.cpp.\n"
      "  qkv quantize model-f16.gguf out.gguf --target-size 600M --imatrix imatrix.gguf\n"
      "  qkv quantize model-f16.gguf out.gguf --target-vram 4G -c 4096 --dry-run");
  auto a = std::make_shared<Args>();
  cmd->add_option("IN", a->in, "Input GGUF (F32, F16 or BF16; quantized needs --allow-requantize)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("OUT", a->out, "Output GGUF, written atomically")->required();
  cmd->add_option("TYPE", a->type, "File type or tensor type, e.g. Q4_K_M (not with a --target-* budget)");
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
  cmd->add_option("--target-size", a->target_size, "Plan each tensor's type so the file fits SIZE (e.g. 700M, 3.5G)");
  cmd->add_option("--target-bpw", a->target_bpw, "Plan for this many bits per weight over all tensors");
  cmd->add_option("--target-vram", a->target_vram, "Plan so weights, KV cache at -c tokens and compute buffers fit SIZE");
  cmd->add_option("-c,--ctx-size", a->ctx, "Context --target-vram keeps room for")->capture_default_str();
  cmd->add_option("--calibrate", a->calibrate, "Text on which to measure each tensor's KLD sensitivity (recommended)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--calibrate-ctx", a->calibrate_ctx, "Window of --calibrate, in tokens")->capture_default_str();
  cmd->add_option("--calibrate-chunks", a->calibrate_chunks, "Windows of --calibrate used")->capture_default_str();
  cmd->add_option("--sample-rows", a->sample_rows, "Rows per tensor the planner quantizes to measure errors")
      ->capture_default_str();
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
