// The loop behind `qkv dpo`: load the policy (and a reference), score the
// pairs under the frozen reference once, then AdamW steps on the DPO loss,
// with held-out evaluation, a JSONL log and the final model as GGUF.
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/train_dpo.h"
#include "train/rng.h"

namespace qkv::train {
namespace fs = std::filesystem;

namespace {

void validate(const DpoOptions& o) {
  auto fail = [](const std::string& msg) { throw Error(ErrorKind::Usage, msg); };
  if (o.init.empty()) fail("DPO needs a model to start from (--init)");
  if (o.data.empty()) fail("DPO needs preference pairs (--data)");
  if (o.out_dir.empty()) fail("DPO needs an output folder (--out)");
  if (!(o.beta > 0)) fail("--beta must be positive");
  if (o.batch <= 0 || o.schedule.steps <= 0) fail("--batch and --steps must be positive");
  if (!(o.schedule.lr > 0) || !(o.schedule.min_lr >= 0) || o.schedule.min_lr > o.schedule.lr)
    fail("the learning rates need 0 <= --min-lr <= --lr and --lr > 0");
  if (o.schedule.warmup < 0 || o.val_every < 0 || o.eval_every < 0 || o.ctx < 0 || !(o.clip >= 0))
    fail("--warmup, --val-every, --eval-every, --ctx and --clip must not be negative");
}

// log ref of each pair, {chosen, rejected}, scored batch by batch in file order.
std::vector<std::array<double, 2>> score(Transformer& ref, const std::vector<PairIds>& pairs, int batch, int ctx) {
  std::vector<std::array<double, 2>> out(pairs.size());
  for (size_t first = 0; first < pairs.size(); first += size_t(batch)) {
    std::vector<const PairIds*> ptrs;
    for (size_t i = first; i < std::min(pairs.size(), first + size_t(batch)); ++i) ptrs.push_back(&pairs[i]);
    const std::vector<double> lp = sequence_logprobs(ref, make_pair_batch(ptrs, ctx));
    for (size_t i = 0; i < ptrs.size(); ++i) out[first + i] = {lp[i], lp[ptrs.size() + i]};
  }
  return out;
}

// The pairs `which` as a batch, with their log ref in the batch's row order.
std::pair<PairBatch, std::vector<double>> gather(const std::vector<PairIds>& pairs,
                                                 const std::vector<std::array<double, 2>>& ref,
                                                 std::span<const uint32_t> which, int ctx) {
  std::vector<const PairIds*> ptrs;
  std::vector<double> r(2 * which.size());
  for (size_t i = 0; i < which.size(); ++i) {
    ptrs.push_back(&pairs[which[i]]);
    r[i] = ref[which[i]][0];
    r[which.size() + i] = ref[which[i]][1];
  }
  return {make_pair_batch(ptrs, ctx), std::move(r)};
}

DpoStats evaluate(Transformer& policy, const std::vector<PairIds>& pairs, const std::vector<std::array<double, 2>>& ref,
                  const std::vector<uint32_t>& held_out, float beta, int batch, int ctx) {
  const size_t n = held_out.size();
  std::vector<double> pol(2 * n), r(2 * n);
  for (size_t first = 0; first < n; first += size_t(batch)) {
    const auto which = std::span(held_out).subspan(first, std::min(size_t(batch), n - first));
    const auto [b, batch_ref] = gather(pairs, ref, which, ctx);
    const std::vector<double> lp = sequence_logprobs(policy, b);
    for (size_t i = 0; i < which.size(); ++i) {
      pol[first + i] = lp[i], pol[n + first + i] = lp[which.size() + i];
      r[first + i] = batch_ref[i], r[n + first + i] = batch_ref[which.size() + i];
    }
  }
  return dpo_loss(pol, r, beta);
}

nlohmann::json record(const char* type, int64_t step, const DpoStats& s) {
  return {{"type", type},
          {"step", step},
          {"loss", s.loss},
          {"rewards/accuracy", s.accuracy},
          {"rewards/margin", s.margin},
          {"rewards/chosen", s.chosen_reward},
          {"rewards/rejected", s.rejected_reward}};
}

// The JSONL log, flushed per record so that a killed run's log holds every step it finished.
class Log {
 public:
  explicit Log(const std::string& path) : path_(path) {
    if (!path.empty() && !(f_ = std::fopen(path.c_str(), "a")))
      throw_io("cannot open the log for appending", path, errno);
  }
  ~Log() {
    if (f_) std::fclose(f_);
  }
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  void write(const nlohmann::json& r) {
    if (!f_) return;
    const std::string line = r.dump() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
      throw_io("cannot write the log", path_, errno);
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace

DpoResult dpo(const DpoOptions& o) {
  validate(o);
  fs::create_directories(o.out_dir);
  const int threads = resolve_threads(o.threads);
  Pretrained init = load_pretrained(o.init, o.ctx, threads);
  Transformer& policy = *init.model;
  const int ctx = policy.shape().ctx;

  const std::vector<PreferencePair> text = read_preferences(o.data);
  std::vector<PairIds> pairs;
  for (const auto& p : text) pairs.push_back(tokenize_pair(*init.vocab, p));
  std::vector<uint32_t> train_ids, held_out;
  for (uint32_t i = 0; i < pairs.size(); ++i)
    (o.val_every > 0 && i % uint32_t(o.val_every) == uint32_t(o.val_every) - 1 ? held_out : train_ids).push_back(i);
  if (train_ids.empty()) throw Error(ErrorKind::Usage, "every pair is held out: raise --val-every", o.data);

  // The reference is frozen, so each pair is scored once; the policy itself
  // is the reference unless --ref names another model.
  std::vector<std::array<double, 2>> ref;
  if (o.ref.empty()) {
    ref = score(policy, pairs, o.batch, ctx);
  } else {
    Pretrained r = load_pretrained(o.ref, ctx, threads);
    if (r.vocab->fingerprint() != init.vocab->fingerprint())
      throw Error(ErrorKind::Usage, "the reference's vocabulary differs from the policy's (" + o.init + ")", o.ref);
    ref = score(*r.model, pairs, o.batch, ctx);
  }

  Log log(o.log_path);
  log.write({{"type", "start"}, {"pairs", train_ids.size()}, {"held_out", held_out.size()},
             {"params", policy.shape().n_params()}, {"beta", o.beta}, {"threads", threads}});
  std::fprintf(stderr, "dpo: %zu pairs (%zu held out), %.2fM parameters, beta %g, %lld steps of %d pairs\n",
               pairs.size(), held_out.size(), double(policy.shape().n_params()) / 1e6, double(o.beta),
               static_cast<long long>(o.schedule.steps), o.batch);

  AdamW opt(o.adamw, policy.params().size());
  DpoResult result;
  auto eval = [&](int64_t step) {
    if (held_out.empty()) return;
    result.eval = evaluate(policy, pairs, ref, held_out, o.beta, o.batch, ctx);
    result.evaluated = true;
    log.write(record("eval", step, result.eval));
    std::fprintf(stderr, "step %lld: held-out loss %.4f, reward accuracy %.3f, margin %.4f\n",
                 static_cast<long long>(step), result.eval.loss, result.eval.accuracy, result.eval.margin);
  };

  // Each epoch visits the training pairs in a new order, a function of (seed, epoch).
  std::vector<uint32_t> order;
  size_t cursor = 0;
  uint64_t epoch = 0;
  std::vector<uint32_t> which(size_t(o.batch));
  int truncated = 0;
  const int64_t report_every = std::max<int64_t>(1, o.schedule.steps / 20);
  for (int64_t step = 0; step < o.schedule.steps; ++step) {
    for (uint32_t& w : which) {
      if (cursor == order.size()) {
        order = train_ids;
        Rng rng = Rng::stream(o.seed, ++epoch);
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
        cursor = 0;
      }
      w = order[cursor++];
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto [b, batch_ref] = gather(pairs, ref, which, ctx);
    truncated += b.truncated;
    policy.zero_grads();
    const DpoStats s = dpo_forward_backward(policy, b, batch_ref, o.beta);
    const double norm = clip_grad_norm(policy.grads(), o.clip, threads);
    if (!std::isfinite(s.loss) || !std::isfinite(norm))
      throw Error(ErrorKind::Usage, "the loss diverged at step " + std::to_string(step + 1) + " (try a lower --lr)");
    const float lr = lr_at(o.schedule, step);
    opt.update(policy.params(), policy.grads(), policy.tensors(), lr, threads);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json r = record("step", step + 1, s);
    r["lr"] = lr, r["grad_norm"] = norm, r["seconds"] = seconds;
    log.write(r);
    if ((step + 1) % report_every == 0 || step + 1 == o.schedule.steps)
      std::fprintf(stderr, "step %lld/%lld | loss %.4f | reward accuracy %.3f | margin %.4f | lr %.2e\n",
                   static_cast<long long>(step + 1), static_cast<long long>(o.schedule.steps), s.loss, s.accuracy,
                   s.margin, double(lr));
    result.last = s;
    if (o.eval_every > 0 && (step + 1) % o.eval_every == 0 && step + 1 != o.schedule.steps) eval(step + 1);
  }
  result.step = o.schedule.steps;
  eval(result.step);
  if (truncated > 0)
    std::fprintf(stderr, "dpo: %d pairs in the steps were cut to fit %d tokens (their prompt's start first)\n",
                 truncated, ctx);

  result.model_path = (fs::path(o.out_dir) / "model.gguf").string();
  export_gguf(result.model_path, policy, *init.vocab, "qkv-dpo");
  if (!o.export_path.empty()) export_gguf(o.export_path, policy, *init.vocab, "qkv-dpo");
  return result;
}

}  // namespace qkv::train
