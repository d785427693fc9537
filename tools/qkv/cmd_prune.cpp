// qkv prune: zero the weights that matter least (magnitude, wanda, N:M), on
// the same pipeline as convert and quantize, to a float GGUF or straight to
// a quant type.
#include <cstdio>

#include "commands.h"
#include "qkv/error.h"
#include "qkv/pipeline.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string in, out, method, type, imatrix;
  double sparsity = -1;
  int threads = 0;
  bool embeddings = false, output = false, allow_requantize = false, dry_run = false;
};

// Without --type, a float input keeps its float type (F32 stays F32) and a
// quantized one or a Hugging Face source becomes F16.
std::string default_type(const pipeline::Source& in) {
  const gguf::TensorInfo* largest = nullptr;
  for (const auto& t : in.tensors())
    if (!largest || t.n_elements() > largest->n_elements()) largest = &t;
  if (in.kind() != "hf" && largest &&
      (largest->type == TensorType::F32 || largest->type == TensorType::F16 || largest->type == TensorType::BF16))
    return std::string(type_name(largest->type));
  return "F16";
}

int run(const Args& a) {
  PruneOptions p;
  parse_prune_method(a.method, p);
  if (p.method == PruneMethod::NofM && a.sparsity >= 0)
    throw Error(ErrorKind::Usage, "--sparsity does not go with --method " + a.method + ", which zeroes " +
                                      std::to_string(p.group_m - p.keep_n) + " of every " + std::to_string(p.group_m));
  if (a.sparsity >= 0) p.sparsity = a.sparsity;
  if (p.sparsity < 0 || p.sparsity >= 1) throw Error(ErrorKind::Usage, "--sparsity must be in [0, 1)");
  p.embeddings = a.embeddings, p.output = a.output;

  const auto in = pipeline::Source::open(a.in, {}, a.threads);
  pipeline::Job job;
  job.prune = p;
  job.verb = "prune";
  quant::QuantizeOptions& q = job.quantize;
  q.type = a.type.empty() ? default_type(*in) : a.type;
  q.threads = a.threads, q.imatrix_path = a.imatrix, q.allow_requantize = a.allow_requantize, q.dry_run = a.dry_run;
  const auto r = pipeline::run(*in, a.out, job);

  const uint64_t prunable = r.prunable;
  if (a.dry_run) {
    std::printf("dry run, nothing written: %s would prune %.2f M weights of %.2f M (%s), %s, file %.2f MB\n",
                a.in.c_str(), prunable * prune_fraction(p) / 1e6, r.elements / 1e6, a.method.c_str(),
                r.file_type.c_str(), r.file_bytes / 1e6);
    return 0;
  }
  std::printf("%s: %s %s, %.2f M of %.2f M prunable weights zeroed (%.1f%%; %.1f%% of all), %.3f bits per weight, "
              "%zu tensors, %.2f s\n",
              a.out.c_str(), a.method.c_str(), r.file_type.c_str(), r.pruned / 1e6, prunable / 1e6,
              prunable ? 100.0 * double(r.pruned) / double(prunable) : 0.0,
              r.elements ? 100.0 * double(r.pruned) / double(r.elements) : 0.0, r.bits_per_weight(), r.tensors.size(),
              r.seconds);
  return 0;
}

}  // namespace

Runner add_prune(CLI::App& app) {
  auto* cmd = app.add_subcommand("prune", "Zero the least important weights (magnitude, wanda, 2:4), then write or quantize");
  cmd->footer(
      "Each method compares weights within one output row (a GGUF row):\n"
      "  magnitude  zeroes the --sparsity fraction of each row with the smallest |w|\n"
      "  wanda      the same with score |w| * ||x|| (Sun et al. 2023), ||x|| from --imatrix\n"
      "  N:M        zeroes the M-N lowest of every M consecutive weights (2:4 is half of them;\n"
      "             scored as wanda with --imatrix, else by magnitude)\n"
      "Norms, biases, token_embd and output are left alone unless asked. The output is a float\n"
      "GGUF (the input's float type; F16 from a quantized or Hugging Face input) or, with --type,\n"
      "any type qkv quantize writes; the imatrix also guides that quantization.\n\n"
      "Examples:\n  qkv imatrix model-f16.gguf -f corpus.txt -o imatrix.gguf\n"
      "  qkv prune model-f16.gguf pruned.gguf --method wanda --sparsity 0.3 --imatrix imatrix.gguf\n"
      "  qkv prune model-f16.gguf pruned-q4.gguf --method 2:4 --type Q4_K_M\n"
      "  qkv prune ./hf-model/ pruned.gguf --method magnitude --sparsity 0.2");
  auto a = std::make_shared<Args>();
  cmd->add_option("IN", a->in, "Input model: GGUF, .qkv, Hugging Face folder or checkpoint")->required()->check(CLI::ExistingPath);
  cmd->add_option("OUT", a->out, "Output GGUF, written atomically")->required();
  cmd->add_option("--method", a->method, "magnitude, wanda or N:M (such as 2:4)")->required();
  cmd->add_option("--sparsity", a->sparsity, "Fraction of each row zeroed, for magnitude and wanda (default 0.5)");
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix (qkv imatrix / llama-imatrix): wanda's activation norms")
      ->check(CLI::ExistingFile);
  cmd->add_option("--type", a->type, "Output file or tensor type, as qkv quantize takes (default: keep the float type)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_flag("--prune-embeddings", a->embeddings, "Also prune token_embd.weight");
  cmd->add_flag("--prune-output", a->output, "Also prune output.weight");
  cmd->add_flag("--allow-requantize", a->allow_requantize, "Allow pruning an already-quantized input (dequantized first)");
  cmd->add_flag("--dry-run", a->dry_run, "Print what would be pruned and the size; write nothing");
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
