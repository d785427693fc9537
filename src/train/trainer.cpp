// The training loop behind `qkv train`: start or resume a run, prepare the
// data, step, evaluate, checkpoint, export.
#include <chrono>
#include <cmath>
#include <filesystem>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/train.h"
#include "qkv/train_distributed.h"
#include "train/report.h"

namespace qkv::train {
namespace fs = std::filesystem;

namespace {

void validate(const RunConfig& r) {
  auto fail = [](const std::string& msg) { throw Error(ErrorKind::Usage, msg); };
  r.shape.validate();
  if (r.batch <= 0 || r.grad_accum <= 0) fail("--batch and --grad-accum must be positive");
  if (r.schedule.steps <= 0) fail("--steps must be positive");
  if (r.schedule.warmup < 0) fail("--warmup must not be negative");
  if (!(r.schedule.lr > 0) || !(r.schedule.min_lr >= 0) || r.schedule.min_lr > r.schedule.lr)
    fail("the learning rates need 0 <= --min-lr <= --lr and --lr > 0");
  if (!(r.clip >= 0)) fail("--clip must not be negative (0 turns clipping off)");
  if (!(r.adamw.weight_decay >= 0)) fail("--weight-decay must not be negative");
}

// The mean loss over up to `batches` held-out batches (all of them full
// unless there are fewer held-out windows than one batch), and its token count.
std::pair<float, int64_t> evaluate(Transformer& model, const Batcher& data, int B, int64_t batches) {
  double sum = 0;
  int64_t tokens = 0;
  const int64_t full = data.val_windows() / B;
  const int64_t n = full == 0 ? 1 : std::min(full, batches);
  for (int64_t i = 0; i < n; ++i) {
    const Batch b = data.validation(i * B, B);
    sum += double(model.loss(b.tokens, b.targets, b.B, b.T)) * b.B * b.T;
    tokens += int64_t(b.B) * b.T;
  }
  return {static_cast<float>(sum / double(tokens)), tokens};
}

// A writer killed mid-checkpoint leaves its temp file behind (named as
// file.h's AtomicFile names them); nothing else writes such names here.
void remove_partial_checkpoints(const std::string& out_dir) {
  const std::string prefix = "." + fs::path(checkpoint_path(out_dir)).filename().string() + ".tmp-";
  for (const auto& e : fs::directory_iterator(out_dir))
    if (e.path().filename().string().starts_with(prefix)) fs::remove(e.path());
}

std::string describe(const RunConfig& r, const TokenShards& data, const Batcher& batcher) {
  const Shape& s = r.shape;
  char line[512];
  std::snprintf(line, sizeof line,
                "model: %.2fM parameters (dim %d, %d layers, %d heads, %d kv heads, ffn %d, vocab %d, ctx %d%s)\n"
                "data: %llu tokens in %zu shards: %lld training windows, %lld held out; %d tokens per step",
                double(s.n_params()) / 1e6, s.dim, s.layers, s.heads, s.kv_heads, s.ffn, s.vocab, s.ctx,
                s.tied ? ", tied head" : "", static_cast<unsigned long long>(data.n_tokens()), data.n_shards(),
                static_cast<long long>(batcher.train_windows()), static_cast<long long>(batcher.val_windows()),
                r.batch * r.grad_accum * s.ctx);
  return line;
}

// The run's state at its start: the checkpoint's when resuming, else a fresh
// model: random, or the --init model's weights and vocabulary.
Checkpoint begin(const TrainOptions& o, const std::string& ckpt, int threads) {
  if (o.resume) {
    if (!fs::exists(ckpt))
      throw Error(ErrorKind::Usage, "no checkpoint to resume in " + o.out_dir + " (start without --resume)");
    return load_checkpoint(ckpt, threads);
  }
  if (fs::exists(ckpt))
    throw Error(ErrorKind::Usage, ckpt + " exists: continue it with --resume, or choose another --out");
  Checkpoint c;
  c.run = o.run;
  if (!o.run.init.empty()) {
    if (!o.vocab.empty())
      throw Error(ErrorKind::Usage, "--vocab cannot go with --init: the vocabulary is the initial model's");
    Pretrained p = load_pretrained(o.run.init, o.run.shape.ctx, threads);
    c.run.shape = p.model->shape();
    validate(c.run);
    c.vocab = std::move(p.vocab);
    c.model = std::move(p.model);
  } else {
    c.vocab = std::make_unique<Vocab>(o.vocab.empty() ? Vocab::bytes() : Vocab::from_gguf(o.vocab));
    c.run.shape.vocab = c.vocab->n_vocab();
    validate(c.run);
    c.model = std::make_unique<Transformer>(c.run.shape, threads);
    c.model->init(c.run.seed);
  }
  c.opt = std::make_unique<AdamW>(c.run.adamw, c.model->params().size());
  return c;
}

}  // namespace

TrainResult train(const TrainOptions& o) {
  if (o.out_dir.empty()) throw Error(ErrorKind::Usage, "training needs an output folder (--out)");
  fs::create_directories(o.out_dir);
  const int threads = resolve_threads(o.threads);
  const std::string ckpt = checkpoint_path(o.out_dir);
  // Under mpirun only rank 0 writes (checkpoints, data shards, log, export)
  // and reports; every rank trains.
  const bool root = dist::is_root();
  if (root) remove_partial_checkpoints(o.out_dir);
  Checkpoint c = begin(o, ckpt, threads);
  dist::broadcast(c.model->params());  // the ranks start identical whatever their initialisation
  const RunConfig& run = c.run;
  TrainState& state = c.state;
  Vocab& vocab = *c.vocab;
  Transformer& model = *c.model;
  AdamW& opt = *c.opt;

  // The shards are written once, into the run's folder; a resumed run reads them again.
  const std::string data_dir = (fs::path(o.out_dir) / "data").string();
  if (o.data.empty() && !o.resume) throw Error(ErrorKind::Usage, "training needs data (--data)");
  if (!root) dist::barrier();  // wait for rank 0's shards, then read them
  const TokenShards data = o.data.empty() || !root ? TokenShards::open(data_dir)
                                                   : TokenShards::prepare(o.data, vocab, data_dir, threads);
  if (root) dist::barrier();
  if (o.resume && data.fingerprint() != state.data_fingerprint)
    throw Error(ErrorKind::Usage, "the data differ from those the checkpoint was trained on; leave --data out "
                                  "to resume on the tokenized shards in " + data_dir);
  if (data.n_vocab() != vocab.n_vocab())
    throw Error(ErrorKind::Integrity, "the shards were tokenized with another vocabulary", data_dir);
  state.data_fingerprint = data.fingerprint();
  Batcher batcher(data, run.shape.ctx, run.seed, run.val_every);
  batcher.seek(state.data);

  const int64_t last = o.stop_at > 0 ? std::min(o.stop_at, run.schedule.steps) : run.schedule.steps;
  Report report(root ? o.log_path : "", state.step, last);
  if (root)
    report.start({{"step", state.step}, {"resume", o.resume}, {"params", run.shape.n_params()},
                {"tokens", data.n_tokens()}, {"threads", threads}},
               describe(run, data, batcher));

  TrainResult result;
  auto save = [&] {
    if (!root) return;
    state.data = batcher.position();
    save_checkpoint(ckpt, run, state, vocab, model, opt);
    report.note("step " + std::to_string(state.step) + ": saved " + ckpt);
  };
  const int64_t first = state.step;
  std::vector<Batch> micro(static_cast<size_t>(run.grad_accum));
  const int ranks = dist::world();
  const int64_t tokens_per_step = int64_t(run.batch) * ranks * run.grad_accum * run.shape.ctx;
  while (state.step < last) {
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& b : micro)
      b = ranks == 1 ? batcher.next(run.batch) : dist::rows_of_rank(batcher.next(run.batch * ranks), dist::rank(), ranks);
    const StepStats s = train_step(model, opt, micro, lr_at(run.schedule, state.step), run.clip);
    if (!std::isfinite(s.loss) || !std::isfinite(s.grad_norm))
      throw Error(ErrorKind::Usage, "the loss diverged at step " + std::to_string(state.step + 1) +
                                        " (try a lower --lr or a --clip); the last checkpoint is intact");
    ++state.step;
    result.loss = s.loss;
    if (root)
      report.step(state.step, s, tokens_per_step,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (o.eval_every > 0 && batcher.val_windows() > 0 && (state.step % o.eval_every == 0 || state.step == last)) {
      const auto [loss, tokens] = evaluate(model, batcher, run.batch, o.eval_batches);
      result.eval_loss = loss;
      if (root) report.eval(state.step, loss, tokens);
    }
    if (o.save_every > 0 && state.step % o.save_every == 0 && state.step != last) save();
  }
  if (state.step > first) save();  // the run's product: where --resume and --export start
  if (root && !o.export_path.empty()) {
    export_gguf(o.export_path, model, vocab);
    report.note("exported " + o.export_path);
  }
  result.step = state.step;
  result.tokens_per_s = report.tokens_per_s();
  return result;
}

}  // namespace qkv::train
