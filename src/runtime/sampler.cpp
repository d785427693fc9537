#include "qkv/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace qkv {

Sampler::Sampler(SamplerParams p) : p_(p), rng_(p.seed) {}

void Sampler::accept(int32_t token) {
  recent_.push_back(token);
  if (p_.repeat_last_n > 0 && recent_.size() > static_cast<size_t>(p_.repeat_last_n)) recent_.erase(recent_.begin());
}

int32_t Sampler::sample(std::span<const float> logits) {
  cand_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) cand_[i] = {static_cast<int32_t>(i), logits[i]};

  // Penalties on recently seen tokens (llama.cpp's penalties sampler).
  if (!recent_.empty() && (p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f)) {
    std::unordered_map<int32_t, int> count;
    for (int32_t t : recent_) ++count[t];
    for (const auto& [t, n] : count) {
      if (t < 0 || static_cast<size_t>(t) >= cand_.size()) continue;
      float& l = cand_[t].logit;
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= static_cast<float>(n) * p_.frequency_penalty + p_.presence_penalty;
    }
  }

  auto by_logit = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
  if (p_.temperature <= 0.0f) return std::min_element(cand_.begin(), cand_.end(), by_logit)->id;

  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < cand_.size()) {
    std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), by_logit);
    cand_.resize(static_cast<size_t>(p_.top_k));
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  // Probabilities of the survivors (sorted, highest first).
  std::vector<double> prob(cand_.size());
  const double max_logit = cand_[0].logit;
  double sum = 0;
  for (size_t i = 0; i < cand_.size(); ++i) sum += prob[i] = std::exp(cand_[i].logit - max_logit);
  for (double& q : prob) q /= sum;

  size_t keep = cand_.size();
  if (p_.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p
    double mass = 0;
    for (size_t i = 0; i < keep; ++i)
      if ((mass += prob[i]) >= p_.top_p) {
        keep = i + 1;
        break;
      }
  }
  if (p_.min_p > 0.0f) {  // drop tokens below min_p times the best one
    size_t i = 1;
    while (i < keep && prob[i] >= p_.min_p * prob[0]) ++i;
    keep = i;
  }
  // Temperature applies to the surviving logits; then one draw.
  std::vector<double> w(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += w[i] = std::exp((cand_[i].logit - max_logit) / p_.temperature);
  double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (size_t i = 0; i < keep; ++i)
    if ((r -= w[i]) <= 0) return cand_[i].id;
  return cand_[keep - 1].id;
}

}  // namespace qkv
