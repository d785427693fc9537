#include "analysis/format.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>
#include <map>

namespace qkv::analysis {

std::string strf(const char* fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string s(static_cast<size_t>(std::max(n, 0)), '\0');
  std::vsnprintf(s.data(), s.size() + 1, fmt, ap2);
  va_end(ap2);
  return s;
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

std::string megabytes(uint64_t bytes) { return strf("%.2f MB", static_cast<double>(bytes) / 1e6); }

std::string sci(double x) { return std::isfinite(x) ? strf("%.2e", x) : std::string("-"); }

double sqnr_db(double error) {
  return error > 0 ? -10.0 * std::log10(error) : std::numeric_limits<double>::infinity();
}

std::string db(double sqnr) {
  if (std::isnan(sqnr)) return "-";
  return std::isinf(sqnr) ? std::string(sqnr > 0 ? "inf" : "-inf") : strf("%.1f", sqnr);
}

std::vector<std::string> unmeasured(const ModelAnalysis& a) {
  std::vector<std::string> out;
  for (const auto& t : a.tensors)
    if (t.quantizable && t.params > 0 && (!t.readable || t.stats.nonfinite > 0)) out.push_back(t.name);
  return out;
}

std::vector<size_t> recipes_by_size(const ModelAnalysis& a) {
  std::vector<size_t> order(a.recipes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return a.recipes[x].bytes < a.recipes[y].bytes; });
  return order;
}

const QuantError* sensitivity_error(const ModelAnalysis& a, size_t i) {
  const auto& t = a.tensors[i];
  return t.sensitivity_type ? t.error_for(*t.sensitivity_type) : nullptr;
}

LayerGrid layer_grid(const ModelAnalysis& a) {
  LayerGrid g;
  std::map<int, size_t> row;
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& t = a.tensors[i];
    if (!sensitivity_error(a, i)) continue;
    if (t.layer < 0) {
      g.outside.push_back(i);
      continue;
    }
    row.emplace(t.layer, 0);
    if (col.emplace(t.family, g.families.size()).second) g.families.push_back(t.family);
  }
  for (auto& [layer, r] : row) {
    r = g.layers.size();
    g.layers.push_back(layer);
  }
  g.cell.assign(g.layers.size(), std::vector<long>(g.families.size(), -1));
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& t = a.tensors[i];
    if (t.layer >= 0 && sensitivity_error(a, i)) g.cell[row[t.layer]][col[t.family]] = static_cast<long>(i);
  }
  return g;
}

std::vector<std::pair<TensorType, size_t>> frontier_type_counts(const ModelAnalysis& a, size_t k) {
  const auto& choice = a.frontier.points[k].choice;
  std::map<uint32_t, size_t> n;
  for (size_t t = 0; t < choice.size(); ++t)
    if (a.tensors[t].quantizable && !a.tensors[t].errors.empty())
      ++n[static_cast<uint32_t>(a.options[t][choice[t]].type)];
  std::vector<std::pair<TensorType, size_t>> out;
  for (const auto& [type, count] : n) out.emplace_back(static_cast<TensorType>(type), count);
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  return out;
}

}  // namespace qkv::analysis
