// The steps of `qkv demo`: thin calls into the library, timed and printed.
#include "cmd_demo_steps.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/generate.h"
#include "qkv/bpe_trainer.h"
#include "qkv/perplexity.h"
#include "qkv/qkv_file.h"
#include "qkv/quantize_model.h"
#include "qkv/train.h"

namespace qkv::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A step's header, with the time since the demo began.
void step(const std::string& what) {
  static const auto start = Clock::now();
  std::fprintf(stderr, "\n\033[1m== [%4.0f s] %s\033[0m\n", seconds_since(start), what.c_str());
}

// The model: about 3.5M parameters, K-quant friendly (every row a multiple of 256).
train::Shape demo_shape() {
  train::Shape s;
  s.vocab = 0;  // the tokenizer's size
  s.dim = 256, s.layers = 4, s.heads = 4, s.kv_heads = 2, s.ffn = 768, s.ctx = 128;
  return s;
}
constexpr int kBatch = 16;
// BPE vocabulary size: tokens of ~3 bytes of English, a small embedding.
constexpr int kVocab = 1024;
// Held-out windows scored per form: enough for a PPL error bar under 2%, quick on 2 cores.
constexpr int kEvalChunks = 64;

// Seconds per optimizer step on this machine, from two timed steps of a throwaway model.
double seconds_per_step(train::Shape shape, int threads) {
  train::Transformer m(shape, threads);
  m.init(1);
  std::vector<int32_t> tokens(static_cast<size_t>(kBatch) * shape.ctx);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i * 7919 % shape.vocab);
  m.forward_backward(tokens, tokens, kBatch, shape.ctx);  // warms the caches and the pool
  const auto t0 = Clock::now();
  m.forward_backward(tokens, tokens, kBatch, shape.ctx);
  return seconds_since(t0) * 1.1;  // + AdamW and the data
}

}  // namespace

DemoText split_text(const DemoOptions& o) {
  step("text");
  std::string all;
  for (const auto& d : o.data) {
    std::vector<fs::path> files;
    if (fs::is_directory(d)) {
      for (const auto& e : fs::recursive_directory_iterator(d))
        if (e.is_regular_file() && !e.is_symlink()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(d);
    }
    for (const auto& f : files) all += read_file(f.string()) + "\n\n";
  }
  if (all.size() < 20000)
    throw Error(ErrorKind::Usage, "the demo needs at least 20 KB of text to train on and measure; --data gave " +
                                      std::to_string(all.size()) + " bytes");
  // Cut at a line break so the held-out text starts cleanly.
  size_t cut = all.size() - all.size() / 20;
  if (const size_t nl = all.rfind('\n', cut); nl != std::string::npos && nl > all.size() / 2) cut = nl + 1;
  DemoText t;
  t.train_path = (fs::path(o.out) / "train.txt").string();
  t.eval_path = (fs::path(o.out) / "eval.txt").string();
  t.eval = all.substr(cut);
  t.train_bytes = cut;
  write_file(t.train_path, std::string_view(all).substr(0, cut));
  write_file(t.eval_path, t.eval);
  std::fprintf(stderr, "%zu bytes to train on (%s), %zu held out (%s)\n", t.train_bytes, t.train_path.c_str(),
               t.eval.size(), t.eval_path.c_str());
  return t;
}

std::string train_demo_tokenizer(const DemoOptions& o, const DemoText& text) {
  bpe::Options b;
  b.vocab_size = kVocab;
  step("train a byte-level BPE tokenizer of " + std::to_string(b.vocab_size) + " tokens");
  bpe::Trainer t;
  t.add_text(read_file(text.train_path));
  const bpe::Vocabulary v = t.train(b);
  const std::string path = (fs::path(o.out) / "tokenizer.gguf").string();
  bpe::write_gguf(path, v);
  std::fprintf(stderr, "%zu tokens, %zu merges -> %s\n", v.tokens.size(), v.merges.size(), path.c_str());
  return path;
}

std::string train_demo_model(const DemoOptions& o, const DemoText& text, const std::string& vocab) {
  train::TrainOptions t;
  t.data = {text.train_path};
  t.vocab = vocab;
  t.out_dir = (fs::path(o.out) / "run").string();
  t.threads = o.threads;
  t.log_path = (fs::path(t.out_dir) / "log.jsonl").string();
  t.export_path = (fs::path(o.out) / "model-F32.gguf").string();
  t.save_every = 0;
  fs::remove_all(t.out_dir);  // the demo's own run: always from scratch

  train::RunConfig& r = t.run;
  r.shape = demo_shape();
  r.shape.vocab = train::Vocab::from_gguf(vocab).n_vocab();
  r.batch = kBatch;
  r.seed = o.seed;
  const double per_step = seconds_per_step(r.shape, o.threads);
  const auto steps = static_cast<int64_t>(std::clamp(o.minutes * 60 / per_step, 20.0, 100000.0));
  r.schedule = {2e-3f, 2e-4f, std::max<int64_t>(steps / 20, 1), steps};
  t.eval_every = std::max<int64_t>(steps / 5, 1);
  step("train a llama of " + std::to_string(r.shape.n_params()) + " parameters for " + std::to_string(steps) +
       " steps (~" + std::to_string(static_cast<int>(o.minutes * 60)) + " s at " +
       std::to_string(static_cast<int>(per_step * 1000)) + " ms per step of " + std::to_string(kBatch) + " x " +
       std::to_string(r.shape.ctx) + " tokens)");
  const auto res = train::train(t);
  std::fprintf(stderr, "trained: loss %.3f, held-out loss %.3f, %.0f tokens/s -> %s\n", res.loss, res.eval_loss,
               res.tokens_per_s, t.export_path.c_str());
  return t.export_path;
}

std::vector<DemoRow> make_forms(const DemoOptions& o, const std::string& f32) {
  step("quantize: F16, Q8_0, Q4_K_M (llama-quantize's recipes)");
  std::vector<DemoRow> rows;
  rows.push_back({"F32", f32, fs::file_size(f32), 32.0});
  for (const char* type : {"F16", "Q8_0", "Q4_K_M"}) {
    quant::QuantizeOptions q;
    q.type = type;
    q.threads = o.threads;
    q.progress = false;
    const std::string out = (fs::path(o.out) / ("model-" + std::string(type) + ".gguf")).string();
    const auto r = quant::quantize_model(f32, out, q);
    rows.push_back({type, out, r.file_bytes, r.bits_per_weight()});
    std::fprintf(stderr, "%-7s %8.2f MB  %.2f bits per weight  %s\n", type, r.file_bytes / 1e6, r.bits_per_weight(),
                 out.c_str());
  }
  step("compress F16 losslessly to .qkv");
  const DemoRow& f16 = rows[1];
  const std::string qkv = (fs::path(o.out) / "model-F16.qkv").string();
  qkvfile::CompressOptions c;
  c.threads = o.threads;
  c.progress = false;
  qkvfile::compress(f16.path, qkv, c);
  const uint64_t bytes = fs::file_size(qkv);
  rows.push_back({"F16.qkv", qkv, bytes, f16.bpw * static_cast<double>(bytes) / static_cast<double>(f16.bytes)});
  std::fprintf(stderr, "%s: %.2f MB, %.1f%% of the F16 GGUF, read directly by the runtime\n", qkv.c_str(), bytes / 1e6,
               100.0 * bytes / f16.bytes);
  return rows;
}

void measure_forms(const DemoOptions& o, const DemoText& text, std::vector<DemoRow>& rows) {
  const auto base = Model::load(rows.front().path);
  const Tokenizer tok = Tokenizer::from_gguf(base->file().metadata());
  const std::vector<int32_t> tokens = tok.encode(text.eval, true);
  const int n_ctx = static_cast<int>(base->config().n_ctx_train);
  for (auto& row : rows) {
    step("perplexity and speed: " + row.form);
    const auto model = Model::load(row.path);
    PerplexityOptions p;
    p.n_ctx = n_ctx;
    p.threads = o.threads;
    p.max_chunks = kEvalChunks;
    p.bos = tok.add_bos() ? tok.bos() : -1;
    if (row.form != "F32") p.base = base;
    const auto r = perplexity(model, tokens, p);
    row.ppl = r.ppl, row.ppl_err = r.ppl_err, row.kld = r.mean_kld, row.top1 = r.top1_agreement;
    // Speed: a prompt of half the context, then greedy generation to its end.
    Session s(model, n_ctx, o.threads);
    GenerateOptions g;
    g.n_predict = n_ctx / 2 - 1;
    g.sampling.temperature = 0;
    g.ignore_eos = true;
    const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + n_ctx / 2);
    const auto st = generate(s, tok, prompt, g, [](std::string_view) { return true; });
    row.pp_tps = st.prompt_tps(), row.tg_tps = st.generate_tps();
    std::fprintf(stderr, "PPL %.3f +/- %.3f over %lld tokens; %.0f prompt tokens/s, %.0f generated tokens/s\n", r.ppl,
                 r.ppl_err, static_cast<long long>(r.scored), row.pp_tps, row.tg_tps);
  }
}

void stream_sample(const DemoOptions& o, const DemoText& text, const std::vector<DemoRow>& rows) {
  const auto it = std::find_if(rows.begin(), rows.end(), [](const DemoRow& r) { return r.form == "Q4_K_M"; });
  const auto model = Model::load(it->path);
  const Tokenizer tok = Tokenizer::from_gguf(model->file().metadata());
  // The prompt: the held-out text's first line, which the model has not seen.
  const size_t start = text.eval.find_first_not_of("\n");
  const std::string prompt = text.eval.substr(start, std::min<size_t>(text.eval.find('\n', start) - start, 80));
  step("a sample from Q4_K_M (temperature 0.8, top-p 0.95, seed " + std::to_string(o.seed) + ")");
  std::printf("%s", prompt.c_str());
  Session s(model, 0, o.threads);
  GenerateOptions g;
  g.n_predict = 200;
  g.sampling.seed = o.seed;
  g.ignore_eos = true;
  generate(s, tok, tok.encode(prompt, true), g, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::printf("\n");
}

void print_table(const std::vector<DemoRow>& rows, const DemoOptions& o, double seconds) {
  std::string t;
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %9s %6s %16s %10s %8s %10s %10s\n", "form", "size MB", "bpw", "held-out PPL",
                "KLD/F32", "top-1", "prompt t/s", "gen t/s");
  t += line;
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%-8s %9.2f %6.2f %9.3f +/- %4.2f %10.5f %7.1f%% %10.0f %10.0f\n", r.form.c_str(),
                  r.bytes / 1e6, r.bpw, r.ppl, r.ppl_err, r.kld, r.form == "F32" ? 100.0 : 100 * r.top1, r.pp_tps,
                  r.tg_tps);
    t += line;
  }
  std::snprintf(line, sizeof line, "(%d threads, %.0f s in all; files in %s)\n", o.threads, seconds, o.out.c_str());
  t += line;
  step("summary");
  std::fputs(t.c_str(), stdout);
  write_file((fs::path(o.out) / "table.txt").string(), t);
}

}  // namespace qkv::cli
