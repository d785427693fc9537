// The size / error frontier of a choice of one option per tensor: dynamic
// programming over sizes (a multiple-choice knapsack) for the whole curve,
// joined with greedy bit allocation over each tensor's lower convex hull
// (Shoham and Gersho, 1988), whose points are exact optima at any scale.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>

#include "qkv/analysis.h"
#include "qkv/error.h"

namespace qkv::analysis {
namespace {

using Choice = std::vector<uint8_t>;

// A tensor's options that no other option beats on both counts, smallest first.
std::vector<size_t> pareto_options(const std::vector<Option>& opts) {
  std::vector<size_t> order(opts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return opts[a].bytes != opts[b].bytes ? opts[a].bytes < opts[b].bytes : opts[a].error < opts[b].error;
  });
  std::vector<size_t> out;
  for (size_t i : order)
    if (out.empty() || opts[i].error < opts[out.back()].error) out.push_back(i);
  return out;
}

// Of those, the ones on the lower convex hull: the error removed per byte
// strictly falls from each to the next.
std::vector<size_t> lower_hull(const std::vector<Option>& opts, const std::vector<size_t>& pareto) {
  std::vector<size_t> hull;
  for (size_t i : pareto) {
    while (hull.size() >= 2) {
      const Option& a = opts[hull[hull.size() - 2]];
      const Option& b = opts[hull.back()];
      const Option& c = opts[i];
      // b stays only if it lies strictly below the chord from a to c.
      const double cross = static_cast<double>(b.bytes - a.bytes) * (c.error - a.error) -
                           (b.error - a.error) * static_cast<double>(c.bytes - a.bytes);
      if (cross > 0) break;
      hull.pop_back();
    }
    hull.push_back(i);
  }
  return hull;
}

// Greedy allocation: every tensor at its smallest option, then the upgrade
// with the most error removed per byte, again and again. Each state it passes
// is a vertex of the lower convex hull of all choices.
void hull_vertices(const std::vector<std::vector<Option>>& options, const std::vector<std::vector<size_t>>& pareto,
                   std::vector<Choice>& out) {
  std::vector<std::vector<size_t>> hulls;
  Choice c;
  for (size_t t = 0; t < options.size(); ++t) {
    hulls.push_back(lower_hull(options[t], pareto[t]));
    c.push_back(static_cast<uint8_t>(hulls.back().front()));
  }
  out.push_back(c);
  struct Offer {
    double gain;  // error removed per byte
    size_t tensor;
    bool operator<(const Offer& o) const { return gain != o.gain ? gain < o.gain : tensor > o.tensor; }
  };
  std::vector<size_t> at(options.size(), 0);
  auto offer = [&](size_t t) {
    const Option& a = options[t][hulls[t][at[t]]];
    const Option& b = options[t][hulls[t][at[t] + 1]];
    return Offer{(a.error - b.error) / static_cast<double>(b.bytes - a.bytes), t};
  };
  // A tensor's own segments fall in gain, so this order keeps them in hull order.
  std::priority_queue<Offer> queue;
  for (size_t t = 0; t < options.size(); ++t)
    if (hulls[t].size() > 1) queue.push(offer(t));
  while (!queue.empty()) {
    const size_t t = queue.top().tensor;
    queue.pop();
    c[t] = static_cast<uint8_t>(hulls[t][++at[t]]);
    out.push_back(c);
    if (at[t] + 1 < hulls[t].size()) queue.push(offer(t));
  }
}

// Least error for every total size, sizes counted in units of `unit` bytes
// (each option rounded up). Exact when unit is 1.
void knapsack(const std::vector<std::vector<Option>>& options, const std::vector<std::vector<size_t>>& pareto,
              uint64_t unit, std::vector<Choice>& out) {
  const size_t n = options.size();
  std::vector<std::vector<uint64_t>> cost(n);
  size_t cap = 0;
  for (size_t t = 0; t < n; ++t) {
    for (size_t i : pareto[t]) cost[t].push_back((options[t][i].bytes + unit - 1) / unit);
    cap += static_cast<size_t>(cost[t].back());
  }
  constexpr double kNone = std::numeric_limits<double>::infinity();
  constexpr uint8_t kNoOption = 0xFF;
  std::vector<double> best(cap + 1, kNone), next(cap + 1);
  std::vector<std::vector<uint8_t>> back(n, std::vector<uint8_t>(cap + 1, kNoOption));
  best[0] = 0;
  size_t reach = 0;  // best[b] is infinite past this
  for (size_t t = 0; t < n; ++t) {
    std::fill(next.begin(), next.end(), kNone);
    for (size_t k = 0; k < pareto[t].size(); ++k) {
      const size_t c = static_cast<size_t>(cost[t][k]);
      const double e = options[t][pareto[t][k]].error;
      for (size_t b = 0; b <= reach; ++b) {
        if (best[b] == kNone) continue;
        const double v = best[b] + e;
        if (v < next[b + c]) {
          next[b + c] = v;
          back[t][b + c] = static_cast<uint8_t>(k);
        }
      }
    }
    reach += static_cast<size_t>(cost[t].back());
    best.swap(next);
  }
  // The sizes at which the least error so far drops, each traced back to its choice.
  double least = kNone;
  for (size_t b = 0; b <= reach; ++b) {
    if (!(best[b] < least)) continue;
    least = best[b];
    Choice c(n);
    size_t at = b;
    for (size_t t = n; t-- > 0;) {
      const uint8_t k = back[t][at];
      c[t] = static_cast<uint8_t>(pareto[t][k]);
      at -= static_cast<size_t>(cost[t][k]);
    }
    out.push_back(std::move(c));
  }
}

}  // namespace

std::optional<size_t> Frontier::at_most(uint64_t bytes) const {
  const auto it = std::upper_bound(points.begin(), points.end(), bytes,
                                   [](uint64_t b, const Point& p) { return b < p.bytes; });
  if (it == points.begin()) return std::nullopt;
  return static_cast<size_t>(it - points.begin()) - 1;
}

Frontier compute_frontier(const std::vector<std::vector<Option>>& options, uint64_t steps) {
  std::vector<std::vector<size_t>> pareto;
  uint64_t largest = 0;
  for (size_t t = 0; t < options.size(); ++t) {
    if (options[t].empty()) throw Error(ErrorKind::Usage, "tensor " + std::to_string(t) + " has no option");
    if (options[t].size() > 255) throw Error(ErrorKind::Usage, "tensor " + std::to_string(t) + " has over 255 options");
    pareto.push_back(pareto_options(options[t]));
    largest += options[t][pareto.back().back()].bytes;
  }
  std::vector<Choice> choices;
  hull_vertices(options, pareto, choices);
  const uint64_t unit = std::max<uint64_t>(1, (largest + std::max<uint64_t>(steps, 1) - 1) / std::max<uint64_t>(steps, 1));
  knapsack(options, pareto, unit, choices);

  // Every candidate with its exact size and error (added in tensor order),
  // then only those that nothing else beats.
  Frontier f;
  std::vector<Frontier::Point> all;
  all.reserve(choices.size());
  for (auto& c : choices) {
    Frontier::Point p;
    for (size_t t = 0; t < options.size(); ++t) p.bytes += options[t][c[t]].bytes, p.error += options[t][c[t]].error;
    p.choice = std::move(c);
    all.push_back(std::move(p));
  }
  std::stable_sort(all.begin(), all.end(), [](const Frontier::Point& a, const Frontier::Point& b) {
    return a.bytes != b.bytes ? a.bytes < b.bytes : a.error < b.error;
  });
  for (auto& p : all)
    if (f.points.empty() || p.error < f.points.back().error) f.points.push_back(std::move(p));
  return f;
}

}  // namespace qkv::analysis
