// SensitivityProbe (qkv/sensitivity.h): the model with one weight swapped,
// run over the calibration windows, against the base's cached log-probs.
#include "qkv/sensitivity.h"

#include <cmath>

#include "qkv/error.h"
#include "qkv/session.h"
#include "runtime/ops.h"

namespace qkv {
namespace {

void log_softmax(const float* x, size_t n, float* out) {  // kept in float: a window's rows are many
  const double lse = ops::log_sum_exp(x, int64_t(n));
  for (size_t i = 0; i < n; ++i) out[i] = float(x[i] - lse);
}

// Every matrix of m, by name.
std::vector<Weight*> weights_of(Model& m) {
  std::vector<Weight*> out = {&m.token_embd, &m.output};
  for (auto& L : m.layers)
    for (Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.wqkv, &L.w_gate, &L.w_up, &L.w_down}) out.push_back(w);
  return out;
}

}  // namespace

SensitivityProbe::SensitivityProbe(std::shared_ptr<const Model> base, const std::vector<int32_t>& tokens, int n_ctx,
                                   int max_windows, int threads, int32_t bos)
    : base_(std::move(base)), threads_(threads) {
  for (size_t at = 0; at + size_t(n_ctx) <= tokens.size() && int(windows_.size()) < max_windows; at += size_t(n_ctx)) {
    windows_.emplace_back(tokens.begin() + int64_t(at), tokens.begin() + int64_t(at) + n_ctx);
    if (bos >= 0) windows_.back()[0] = bos;
  }
  if (windows_.empty())
    throw Error(ErrorKind::Usage, "the calibration text has " + std::to_string(tokens.size()) +
                                      " tokens, fewer than one window of " + std::to_string(n_ctx));
  base_logp_ = run(base_);
}

std::vector<std::vector<float>> SensitivityProbe::run(const std::shared_ptr<const Model>& m) const {
  const size_t V = m->config().n_vocab;
  std::vector<std::vector<float>> out;
  Session s(m, int(windows_[0].size()), threads_);
  for (const auto& w : windows_) {
    s.clear();
    const auto logits = s.decode(w, true);
    std::vector<float> lp(logits.size());
    for (size_t t = 0; t < w.size(); ++t) log_softmax(&logits[t * V], V, &lp[t * V]);
    out.push_back(std::move(lp));
  }
  return out;
}

double SensitivityProbe::kld(const std::string& name, TensorType type, std::span<const uint8_t> data) const {
  auto m = std::make_shared<Model>(*base_);  // shares the file and the other weights
  bool found = false;
  for (Weight* w : weights_of(*m)) {
    // Tied models read token_embd as the output head too: both views change.
    if (!*w || !w->name || name != w->name) continue;
    if (data.size() != row_bytes(type, w->cols) * w->rows)
      throw Error(ErrorKind::Usage, "a probe of " + std::to_string(data.size()) + " bytes does not fit the tensor", {}, name);
    w->type = type, w->data = data.data(), w->interleaved = nullptr;
    found = true;
  }
  if (!found) throw Error(ErrorKind::Usage, "the model reads no matrix of this name", {}, name);
  const auto lp = run(m);
  const size_t V = m->config().n_vocab;
  double sum = 0;
  size_t n = 0;
  for (size_t k = 0; k < lp.size(); ++k)
    for (size_t t = 0; t < windows_[k].size(); ++t, ++n)
      for (size_t i = 0; i < V; ++i) {
        const float p = base_logp_[k][t * V + i];
        sum += std::exp(double(p)) * (double(p) - lp[k][t * V + i]);
      }
  return sum / double(n);
}

}  // namespace qkv
