#include "qkv/perplexity.h"

#include <cmath>

#include "qkv/error.h"
#include "qkv/session.h"
#include "runtime/ops.h"

namespace qkv {
namespace {

// log softmax of one row, in double.
void log_softmax(const float* logits, size_t n, std::vector<double>& out) {
  const double lse = ops::log_sum_exp(logits, int64_t(n));
  out.resize(n);
  for (size_t i = 0; i < n; ++i) out[i] = logits[i] - lse;
}

struct Accum {  // running mean and variance of per-token values
  double sum = 0, sum2 = 0;
  int64_t n = 0;
  void add(double v) { sum += v, sum2 += v * v, ++n; }
  double mean() const { return n ? sum / n : 0; }
  double stderr_() const { return n > 1 ? std::sqrt(std::max(0.0, sum2 / n - mean() * mean()) / (n - 1)) : 0; }
};

}  // namespace

PerplexityResult perplexity(std::shared_ptr<const Model> model, const std::vector<int32_t>& tokens,
                            const PerplexityOptions& o) {
  const int n_ctx = o.n_ctx;
  if (n_ctx < 4) throw Error(ErrorKind::Usage, "perplexity needs a context of at least 4 tokens");
  int n_chunks = static_cast<int>(tokens.size() / n_ctx);
  if (o.max_chunks > 0) n_chunks = std::min(n_chunks, o.max_chunks);
  if (n_chunks < 1)
    throw Error(ErrorKind::Usage, "the text has " + std::to_string(tokens.size()) + " tokens; perplexity with -c " +
                                      std::to_string(n_ctx) + " needs at least " + std::to_string(n_ctx));
  if (o.base && o.base->config().n_vocab != model->config().n_vocab)
    throw Error(ErrorKind::Usage, "the base model's vocabulary differs from the model's");

  const size_t V = model->config().n_vocab;
  Session s(model, n_ctx, o.threads);
  std::unique_ptr<Session> base;
  if (o.base) base = std::make_unique<Session>(o.base, n_ctx, o.threads);
  Accum nll, base_nll, kld;
  int64_t agree = 0;
  std::vector<double> lp, blp;
  const int first = n_ctx / 2;
  PerplexityResult r;
  for (int c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> window(tokens.begin() + int64_t(c) * n_ctx, tokens.begin() + int64_t(c + 1) * n_ctx);
    if (o.bos >= 0) window[0] = o.bos;
    s.clear();
    const auto logits = s.decode(window, true);
    std::vector<float> base_logits;
    if (base) {
      base->clear();
      base_logits = base->decode(window, true);
    }
    // Position j predicts token j + 1; score j in [first, n_ctx - 1).
    for (int j = first; j < n_ctx - 1; ++j) {
      const int32_t next = tokens[size_t(c) * n_ctx + j + 1];
      log_softmax(&logits[size_t(j) * V], V, lp);
      nll.add(-lp[next]);
      if (base) {
        log_softmax(&base_logits[size_t(j) * V], V, blp);
        base_nll.add(-blp[next]);
        double kl = 0;
        size_t a = 0, b = 0;
        for (size_t i = 0; i < V; ++i) {
          kl += std::exp(blp[i]) * (blp[i] - lp[i]);
          if (lp[i] > lp[a]) a = i;
          if (blp[i] > blp[b]) b = i;
        }
        kld.add(kl);
        agree += a == b;
      }
    }
    if (o.on_chunk) o.on_chunk(c + 1, n_chunks, std::exp(nll.mean()));
  }
  r.chunks = n_chunks;
  r.scored = nll.n;
  r.ppl = std::exp(nll.mean());
  r.ppl_err = r.ppl * nll.stderr_();
  if (base) {
    r.base_ppl = std::exp(base_nll.mean());
    r.mean_kld = kld.mean();
    r.kld_err = kld.stderr_();
    r.top1_agreement = double(agree) / double(kld.n);
  }
  return r;
}

}  // namespace qkv
