// qkv imatrix: llama-imatrix's importance matrix, for `qkv quantize --imatrix`
// and llama-quantize.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "qkv/file.h"
#include "qkv/imatrix.h"
#include "qkv/progress.h"
#include "qkv/tokenizer.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string model, file, out = "imatrix.gguf";
  int n_ctx = 512, threads = 0, chunks = 0;
  bool process_output = false, no_ppl = false, no_repack = false;
};

int run(const Args& a) {
  const std::string text = read_file(a.file);
  auto model = Model::load(a.model, {.repack = !a.no_repack});
  const Tokenizer tok = Tokenizer::from_gguf(model->file().metadata());
  const auto tokens = tok.encode(text, true);
  ImatrixOptions o;
  o.n_ctx = a.n_ctx;
  o.threads = a.threads;
  o.max_chunks = a.chunks;
  o.bos = tok.add_bos() ? tok.bos() : -1;
  o.process_output = a.process_output;
  o.perplexity = !a.no_ppl;
  const int n_chunks = a.chunks > 0 ? std::min<int>(a.chunks, int(tokens.size() / size_t(std::max(1, a.n_ctx))))
                                    : int(tokens.size() / size_t(std::max(1, a.n_ctx)));
  std::fprintf(stderr, "%zu tokens: %d chunks of %d\n", tokens.size(), n_chunks, a.n_ctx);
  Progress bar("imatrix", uint64_t(std::max(n_chunks, 1)), false);
  o.on_chunk = [&](int c, int, double ppl) {
    bar.set_note(ppl > 0 ? "PPL " + std::to_string(ppl) : std::string());
    bar.add(1);
    if (!Progress::enabled() && ppl > 0) std::fprintf(stderr, "[%d] %.4f\n", c, ppl);
  };
  auto sums = collect_imatrix(model, tokens, o);
  bar.finish();
  sums.datasets.push_back(a.file);
  quant::save_imatrix(sums, a.out);
  std::printf("%s: %zu matrices, %u chunks of %u tokens\n", a.out.c_str(), sums.tensors.size(), sums.chunks,
              sums.chunk_size);
  return 0;
}

}  // namespace

Runner add_imatrix(CLI::App& app) {
  auto* cmd = app.add_subcommand("imatrix", "Compute an importance matrix from a text (llama-imatrix's method)");
  cmd->footer(
      "The text is cut into chunks of -c tokens, each evaluated from scratch (its first token\n"
      "replaced by BOS). For every matrix in the layers (blk.*), and output.weight with\n"
      "--process-output, it sums each input column's squared activation over the tokens the\n"
      "matrix reads: llama-imatrix's statistics, in its GGUF format, read by `qkv quantize\n"
      "--imatrix` and llama-quantize. On the way it prints the perplexity of each chunk's second half.\n\n"
      "Examples:\n  qkv imatrix model-f16.gguf -f calibration.txt -o imatrix.gguf\n"
      "  qkv quantize model-f16.gguf model-iq4_xs.gguf IQ4_XS --imatrix imatrix.gguf");
  auto a = std::make_shared<Args>();
  cmd->add_option("MODEL", a->model, "GGUF model (ideally the F16 or BF16 original)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-f,--file", a->file, "Calibration text")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", a->out, "Output imatrix GGUF, written atomically")->capture_default_str();
  cmd->add_option("-c,--ctx-size", a->n_ctx, "Chunk size in tokens")->capture_default_str();
  cmd->add_option("--chunks", a->chunks, "Use at most this many chunks (default: all)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_flag("--process-output", a->process_output, "Also collect output.weight");
  cmd->add_flag("--no-ppl", a->no_ppl, "Do not compute perplexity (skips the output head for all but the last token)");
  cmd->add_flag("--no-repack", a->no_repack, "Read the weights in place (no row interleaving at load; less speed)");
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
