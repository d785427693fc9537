// Measuring each tensor's quantization error per type, and spending a size
// budget on the types (qkv/budget_plan.h).
//
// Allocation is a multiple-choice knapsack: a few hundred tensors, a dozen
// types each, a budget in bytes. An exact dynamic programme over bytes is out
// of reach, and over coarse buckets it would be approximate anyway. The
// Lagrangian relaxation is exact on the lower convex hull of the frontiers:
// for a price lambda per byte each tensor takes the candidate minimising
// error + lambda * bytes, and a bisection on lambda finds the cheapest price
// whose choices fit. What that leaves on the table is less than one hull step
// per tensor; a greedy pass then spends the remaining bytes on the upgrades
// that save the most error per byte.
#include "qkv/budget_plan.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/quant.h"
#include "qkv/quant_error.h"

namespace qkv::quant {

std::vector<TensorType> candidate_types(uint64_t n_per_row) {
  using T = TensorType;
  std::vector<T> out;
  for (T t : {T::F16, T::Q8_0, T::Q6_K, T::Q5_K, T::Q5_1, T::Q5_0, T::Q4_K, T::Q4_1, T::IQ4_XS, T::IQ4_NL, T::Q4_0,
              T::Q3_K, T::Q2_K})
    if (n_per_row % type_info(t).block_elems == 0 && can_quantize(t)) out.push_back(t);
  return out;
}

double predicted_error(TensorType type, const float* w, int64_t rows, int64_t n_per_row, const float* imatrix,
                       int64_t sample_rows, int threads) {
  const auto sampled = quant::sample_rows(rows, n_per_row, uint64_t(std::max<int64_t>(sample_rows, 1)) * uint64_t(n_per_row));
  const QuantError e =
      quant_error(type, {w, size_t(rows * n_per_row)}, n_per_row, 1, imatrix, sampled, threads);
  return e.abs_error * double(rows) / double(e.measured_rows);
}

namespace {

// Drops every candidate that another beats or equals on both size and error; largest first.
std::vector<Candidate> frontier_of(std::vector<Candidate> c) {
  std::stable_sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
    return a.bytes != b.bytes ? a.bytes < b.bytes : a.error < b.error;
  });
  std::vector<Candidate> kept;  // smallest first: each with less error than every smaller one
  for (const Candidate& x : c)
    if (kept.empty() || x.error < kept.back().error) kept.push_back(x);
  std::reverse(kept.begin(), kept.end());
  return kept;
}

}  // namespace

std::vector<TensorOptions> measure_tensors(const std::vector<gguf::TensorInfo>& tensors, uint64_t align,
                                           const TensorReader& read, const std::vector<bool>& quantizable,
                                           const MeasureOptions& o, const std::function<void(uint64_t)>& progress) {
  std::vector<TensorOptions> out;
  std::vector<float> floats;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!quantizable[i]) continue;
    const auto& t = tensors[i];
    const int64_t n_per_row = int64_t(t.shape[0]), rows = int64_t(t.n_elements()) / n_per_row;
    read(i, floats);
    const std::vector<float>* h = o.imatrix ? o.imatrix->find(t.name) : nullptr;
    if (h && h->size() != size_t(n_per_row))
      throw Error(ErrorKind::Usage, "the importance matrix has " + std::to_string(h->size()) + " weights, the tensor " +
                                        std::to_string(n_per_row) + " columns (expert tensors are not planned yet)",
                  {}, t.name);
    std::vector<Candidate> all;
    for (TensorType type : candidate_types(t.shape[0])) {
      const uint64_t bytes = gguf::align_up(tensor_bytes(type, t.shape), align);
      const double err = type == t.type ? 0.0 : predicted_error(type, floats.data(), rows, n_per_row,
                                                                 h ? h->data() : nullptr, o.sample_rows, o.threads);
      all.push_back({type, bytes, err});
    }
    if (t.type == TensorType::F32 || t.type == TensorType::BF16)  // keeping the source as it is costs no error
      all.push_back({t.type, gguf::align_up(t.nbytes(), align), 0.0});
    if (o.sensitivity) {
      const Candidate& probe = *std::min_element(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
        return a.bytes < b.bytes;
      });
      if (probe.error > 0) {
        std::vector<uint8_t> q(tensor_bytes(probe.type, t.shape));
        quantize(probe.type, floats.data(), q.data(), rows, n_per_row, uses_imatrix(probe.type) && h ? h->data() : nullptr,
                 o.threads);
        const double scale = std::max(o.sensitivity(t.name, probe.type, q), 1e-12) / probe.error;
        for (Candidate& c : all) c.error *= scale;
      }
    }
    out.push_back({i, frontier_of(std::move(all))});
    if (progress) progress(t.nbytes());
  }
  return out;
}

std::vector<size_t> allocate(const std::vector<TensorOptions>& tensors, uint64_t budget) {
  uint64_t smallest = 0, largest = 0;
  for (const auto& t : tensors) smallest += t.frontier.back().bytes, largest += t.frontier.front().bytes;
  if (smallest > budget)
    throw Error(ErrorKind::Usage, "the budget leaves " + std::to_string(budget) + " bytes for the quantized tensors; " +
                                      "the smallest plan needs " + std::to_string(smallest) + " and the largest " +
                                      std::to_string(largest));
  auto choose = [&](double lambda, std::vector<size_t>& pick) {
    uint64_t total = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& f = tensors[i].frontier;
      size_t best = 0;
      for (size_t k = 1; k < f.size(); ++k)
        if (f[k].error + lambda * double(f[k].bytes) < f[best].error + lambda * double(f[best].bytes)) best = k;
      pick[i] = best;
      total += f[best].bytes;
    }
    return total;
  };
  std::vector<size_t> pick(tensors.size()), trial(tensors.size());
  if (choose(0.0, pick) > budget) {  // the largest plan does not fit: find the lowest price at which one does
    double lo = 0, hi = 1e-30;
    while (choose(hi, trial) > budget) lo = hi, hi *= 2;
    for (int it = 0; it < 100; ++it) {
      const double mid = (lo + hi) / 2;
      (choose(mid, trial) > budget ? lo : hi) = mid;
    }
    choose(hi, pick);
  }
  // Spend what is left: the one-step upgrade saving the most error per byte, while one fits.
  uint64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) total += tensors[i].frontier[pick[i]].bytes;
  for (;;) {
    size_t best = tensors.size();
    double best_rate = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (pick[i] == 0) continue;
      const Candidate &now = tensors[i].frontier[pick[i]], &up = tensors[i].frontier[pick[i] - 1];
      if (total - now.bytes + up.bytes > budget) continue;
      const double rate = (now.error - up.error) / double(up.bytes - now.bytes);
      if (rate > best_rate) best_rate = rate, best = i;
    }
    if (best == tensors.size()) break;
    total += tensors[best].frontier[pick[best] - 1].bytes - tensors[best].frontier[pick[best]].bytes;
    --pick[best];
  }
  return pick;
}

uint64_t vram_overhead(const gguf::Metadata& md, uint32_t ctx) {
  const Hparams h = Hparams::from_metadata(md);
  const uint64_t d = h.n_embd, layers = h.n_layer, heads = std::max<uint32_t>(h.n_head, 1);
  const uint64_t kv_heads = h.n_head_kv ? h.n_head_kv : heads, ff = h.n_ff ? h.n_ff : 4 * d, head_dim = h.head_dim;
  const uint64_t vocab = h.n_vocab;
  constexpr uint64_t kBatch = 512;
  const uint64_t kv = 2 * layers * uint64_t(ctx) * kv_heads * head_dim * 2;
  const uint64_t compute = kBatch * (vocab + 4 * d + 3 * ff) * 4 + kBatch * uint64_t(ctx) * heads * 4;
  return kv + compute;
}

BudgetPlan plan_for_budget(const gguf::Metadata& md, const std::vector<gguf::TensorInfo>& tensors,
                           const TensorReader& read, std::vector<PlannedTensor>& planned, const std::vector<bool>& keep,
                           uint64_t header_bytes, const BudgetTarget& target, const MeasureOptions& opts,
                           const std::function<void(uint64_t)>& progress) {
  const uint64_t align = gguf::alignment_of(md);
  std::vector<bool> quantizable(tensors.size(), false);
  uint64_t fixed = 0, fixed_unaligned = 0, elements = 0;
  for (size_t i = 0; i < planned.size(); ++i) {
    const PlannedTensor& p = planned[i];
    const auto& t = tensors[p.input_index];
    elements += t.n_elements();
    if (p.quantize() && !keep[i] && !candidate_types(t.shape[0]).empty()) {
      quantizable[p.input_index] = true;
    } else {
      fixed += gguf::align_up(tensor_bytes(p.to, t.shape), align);
      fixed_unaligned += tensor_bytes(p.to, t.shape);
    }
  }
  const auto options = measure_tensors(tensors, align, read, quantizable, opts, progress);

  // The whole budget, then what is left of it for the planned tensors.
  auto left = [](uint64_t total, uint64_t used) { return total > used ? total - used : 0; };
  BudgetPlan r;
  if (target.file_bytes) {
    r.tensor_budget = left(target.file_bytes, header_bytes + fixed);
  } else if (target.bpw > 0) {
    r.tensor_budget = left(uint64_t(target.bpw * double(elements) / 8), fixed_unaligned);
  } else {
    const uint64_t overhead = vram_overhead(md, target.ctx);
    if (overhead >= target.vram_bytes)
      throw Error(ErrorKind::Usage, "--target-vram: the KV cache and compute buffers alone need " +
                                        std::to_string(overhead >> 20) + " MiB at -c " + std::to_string(target.ctx));
    r.tensor_budget = left(target.vram_bytes - overhead, fixed);
  }
  uint64_t largest = 0;
  for (const auto& o : options) largest += o.frontier.front().bytes;
  r.capped = largest <= r.tensor_budget;
  const auto pick = allocate(options, std::min(largest, r.tensor_budget));
  r.errors.assign(planned.size(), 0.0);
  for (size_t k = 0; k < options.size(); ++k) {
    const Candidate& c = options[k].frontier[pick[k]];
    for (size_t i = 0; i < planned.size(); ++i)
      if (planned[i].input_index == options[k].input_index) {
        planned[i].to = c.type;
        planned[i].fallback = false;
        r.errors[i] = c.error;
      }
    r.total_error += c.error;
  }
  return r;
}

}  // namespace qkv::quant
