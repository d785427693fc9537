// The DPO loss (train_dpo.h has the formula) and its gradient through the
// policy: per-sequence sums of completion log-probabilities, then one
// backward pass in which each completion token carries its sequence's
// d(loss)/d(log pi).
#include <cmath>

#include "qkv/error.h"
#include "qkv/train_dpo.h"

namespace qkv::train {
namespace {

// Sums of the completion positions' log-probabilities, row by row.
std::vector<double> row_sums(const PairBatch& b, std::span<const double> lp) {
  std::vector<double> sums(2 * size_t(b.B), 0.0);
  for (size_t n = 0; n < lp.size(); ++n)
    if (b.completion[n]) sums[n / size_t(b.T)] += lp[n];
  return sums;
}

}  // namespace

std::vector<double> sequence_logprobs(Transformer& model, const PairBatch& b) {
  return row_sums(b, model.logprobs(b.tokens, b.targets, 2 * b.B, b.T));
}

DpoStats dpo_loss(std::span<const double> policy, std::span<const double> ref, float beta,
                  std::vector<double>* dpolicy) {
  if (policy.size() != ref.size() || policy.empty() || policy.size() % 2 != 0)
    throw Error(ErrorKind::Usage, "DPO needs log-probabilities of chosen and rejected rows, as many for the policy (" +
                                      std::to_string(policy.size()) + ") as for the reference (" +
                                      std::to_string(ref.size()) + ")");
  const size_t n = policy.size() / 2;
  if (dpolicy) dpolicy->assign(policy.size(), 0.0);
  DpoStats s;
  for (size_t i = 0; i < n; ++i) {
    const double chosen = beta * (policy[i] - ref[i]), rejected = beta * (policy[n + i] - ref[n + i]);
    const double z = chosen - rejected;
    // -log sigmoid(z), without overflow for large |z|: exactly log(2) at z = 0.
    s.loss += std::max(-z, 0.0) + std::log1p(std::exp(-std::abs(z)));
    s.accuracy += chosen > rejected;
    s.margin += chosen - rejected;
    s.chosen_reward += chosen;
    s.rejected_reward += rejected;
    if (dpolicy) {
      // d(-log sigmoid z)/dz = -sigmoid(-z); dz/d(log pi(chosen)) = beta = -dz/d(log pi(rejected)).
      const double g = -beta / (1.0 + std::exp(z)) / double(n);
      (*dpolicy)[i] = g;
      (*dpolicy)[n + i] = -g;
    }
  }
  for (double* v : {&s.loss, &s.accuracy, &s.margin, &s.chosen_reward, &s.rejected_reward}) *v /= double(n);
  return s;
}

DpoStats dpo_forward_backward(Transformer& policy, const PairBatch& b, std::span<const double> ref, float beta) {
  DpoStats stats;
  policy.forward_backward_logprobs(b.tokens, b.targets, 2 * b.B, b.T, [&](std::span<const double> lp) {
    std::vector<double> d;
    stats = dpo_loss(row_sums(b, lp), ref, beta, &d);
    std::vector<float> w(lp.size(), 0.0f);
    for (size_t n = 0; n < w.size(); ++n)
      if (b.completion[n]) w[n] = static_cast<float>(d[n / size_t(b.T)]);
    return w;
  });
  return stats;
}

}  // namespace qkv::train
