// qkv perplexity: llama-perplexity's measurement, and KL divergence from a base model.
#include <cstdio>

#include "commands.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/perplexity.h"
#include "qkv/progress.h"
#include "qkv/tokenizer.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string model, file, base;
  int n_ctx = 512, threads = 0, chunks = 0;
  size_t max_bytes = 0;
  bool no_repack = false;
};

int run(const Args& a) {
  std::string text = read_file(a.file);
  if (a.max_bytes && text.size() > a.max_bytes) text.resize(a.max_bytes);

  auto model = Model::load(a.model, {.repack = !a.no_repack});
  const Tokenizer tok = Tokenizer::from_gguf(model->file().metadata());
  const auto tokens = tok.encode(text, true);
  PerplexityOptions o;
  o.n_ctx = a.n_ctx;
  o.threads = a.threads;
  o.max_chunks = a.chunks;
  o.bos = tok.add_bos() ? tok.bos() : -1;
  if (!a.base.empty()) o.base = Model::load(a.base, {.repack = !a.no_repack});
  if (Progress::enabled())
    o.on_chunk = [](int c, int n, double ppl) {
      std::fprintf(stderr, "\r\033[K[%d/%d] running estimate PPL = %.4f", c, n, ppl);
      std::fflush(stderr);
    };
  std::fprintf(stderr, "%zu tokens, %d-token windows\n", tokens.size(), a.n_ctx);
  const auto r = perplexity(model, tokens, o);
  if (o.on_chunk) std::fprintf(stderr, "\n");
  std::printf("Final estimate: PPL = %.4f +/- %.5f  (%d chunks, %lld tokens scored)\n", r.ppl, r.ppl_err, r.chunks,
              static_cast<long long>(r.scored));
  if (o.base)
    std::printf("Base PPL = %.4f, PPL ratio = %.4f, mean KLD = %.6f +/- %.6f, top-1 agreement = %.2f%%\n", r.base_ppl,
                r.ppl_ratio(), r.mean_kld, r.kld_err, 100 * r.top1_agreement);
  return 0;
}

}  // namespace

Runner add_perplexity(CLI::App& app) {
  auto* cmd = app.add_subcommand("perplexity", "Measure perplexity on a text (llama-perplexity's method)");
  cmd->footer("Windows of -c tokens, each evaluated from scratch; the second half of each is scored.\n"
              "With --kl-divergence BASE, also the KL divergence from BASE (e.g. the F16 original),\n"
              "the top-1 agreement and the perplexity ratio.\n\n"
              "Examples:\n  qkv perplexity model-q4km.gguf -f wiki.test.raw -c 512\n"
              "  qkv perplexity model-q4km.gguf -f text.txt --kl-divergence model-f16.gguf");
  auto a = std::make_shared<Args>();
  cmd->add_option("MODEL", a->model, "GGUF model")->required()->check(CLI::ExistingFile);
  cmd->add_option("-f,--file", a->file, "Text file")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--no-repack", a->no_repack, "Read the weights in place (no row interleaving at load; less speed)");
  cmd->add_option("-c,--ctx-size", a->n_ctx, "Window size in tokens")->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--chunks", a->chunks, "Score at most this many windows (default: all)");
  cmd->add_option("--max-bytes", a->max_bytes, "Use only the first N bytes of the file");
  cmd->add_option("--kl-divergence", a->base, "Base model to compare against")->check(CLI::ExistingFile);
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
