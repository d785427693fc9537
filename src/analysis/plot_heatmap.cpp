#include <algorithm>
#include <cmath>

#include "analysis/format.h"
#include "analysis/plots.h"
#include "analysis/svg.h"

namespace qkv::analysis {

std::string heatmap_svg(const ModelAnalysis& a) {
  using svg::esc;
  using svg::px;
  const LayerGrid g = layer_grid(a);
  if (g.layers.empty() && g.outside.empty()) return "";
  // One colour scale for every cell: the lowest SQNR is the darkest.
  double lo = INFINITY, hi = -INFINITY;
  auto each = [&](size_t i) {
    const double v = sensitivity_error(a, i)->sqnr_db();
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  };
  for (const auto& row : g.cell)
    for (long i : row)
      if (i >= 0) each(static_cast<size_t>(i));
  for (size_t i : g.outside) each(i);
  if (!(hi >= lo)) lo = 0, hi = 1;
  // At least 3 dB from darkest to lightest, so that noise-sized differences look alike.
  if (hi - lo < 3) {
    const double mid = (lo + hi) / 2;
    lo = mid - 1.5, hi = mid + 1.5;
  }
  auto t_of = [&](double v) { return std::isfinite(v) ? (v - lo) / (hi - lo) : 1.0; };

  const double ncol = std::max<double>(1, static_cast<double>(std::max(g.families.size(), g.outside.size())));
  const double nrow = std::max<double>(1, static_cast<double>(g.layers.size()));
  const double cw = std::clamp(700 / ncol, 46.0, 96.0), ch = std::clamp(520 / nrow, 12.0, 26.0);
  const double left = 70, top = 96, grid_w = cw * ncol, grid_h = ch * static_cast<double>(g.layers.size());
  const double outside_top = top + grid_h + (g.outside.empty() ? 0 : 34);
  const double legend_x = left + grid_w + 30;
  const double width = legend_x + 110, height = std::max(outside_top + (g.outside.empty() ? 0 : ch + 46), top + 260) + 20;
  const std::string type = std::string(type_name(a.sensitivity_type));

  std::string s = strf("<svg id=\"heatmap\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                       "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"per-layer sensitivity\">\n",
                       width, height, width, height);
  s += "<defs><linearGradient id=\"heat-scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 8; ++k) s += strf("<stop offset=\"%.3f\" stop-color=\"%s\"/>", k / 8.0, svg::colour(k / 8.0).c_str());
  s += "</linearGradient></defs>\n";
  s += strf("<text class=\"axis-label\" x=\"%s\" y=\"16\">SQNR in dB at %s per tensor (lower: more error, more "
            "sensitive)</text>\n",
            px(left).c_str(), esc(type).c_str());
  for (size_t c = 0; c < g.families.size(); ++c) {
    const double x = left + cw * (static_cast<double>(c) + 0.5);
    s += strf("<text class=\"column-label\" transform=\"translate(%s %s) rotate(-40)\">%s</text>\n", px(x).c_str(),
              px(top - 6).c_str(), esc(g.families[c]).c_str());
  }
  s += strf("<text class=\"axis-label\" transform=\"translate(16 %s) rotate(-90)\" text-anchor=\"middle\">layer</text>\n",
            px(top + grid_h / 2).c_str());
  auto cell = [&](size_t i, double x, double y) {
    const auto& t = a.tensors[i];
    const QuantError* e = sensitivity_error(a, i);
    const double v = e->sqnr_db(), tt = t_of(v);
    const bool other = *t.sensitivity_type != a.sensitivity_type;
    std::string tip = strf("%s (%s, %s)\n%s: SQNR %s dB, relative error %s", t.name.c_str(), shape_string(t.shape).c_str(),
                           std::string(type_name(t.type)).c_str(), std::string(type_name(e->type)).c_str(),
                           db(v).c_str(), sci(e->rel_error).c_str());
    if (other) tip += strf("\n(the row of %llu does not fit %s: llama.cpp's fallback type)",
                           static_cast<unsigned long long>(t.shape[0]), type.c_str());
    tip += strf("\nkurtosis %.2f, max |w| / std %.1f", t.stats.kurtosis, t.stats.max_abs_over_std());
    std::string r = strf("<rect class=\"cell\" data-tensor=\"%s\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" "
                         "stroke=\"#fff\" stroke-width=\"1\"><title>%s</title></rect>",
                         esc(t.name).c_str(), px(x).c_str(), px(y).c_str(), px(cw).c_str(), px(ch).c_str(),
                         svg::colour(tt).c_str(), esc(tip).c_str());
    if (ch >= 12)
      r += strf("<text class=\"cell-value\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"%s\">%s%s</text>",
                px(x + cw / 2).c_str(), px(y + ch / 2 + 3.5).c_str(), svg::ink(tt), db(v).c_str(), other ? "*" : "");
    return r + "\n";
  };
  for (size_t r = 0; r < g.layers.size(); ++r) {
    const double y = top + ch * static_cast<double>(r);
    const bool label = g.layers.size() <= 40 || r % 5 == 0 || r + 1 == g.layers.size();
    if (label)
      s += strf("<text class=\"row-label\" x=\"%s\" y=\"%s\" text-anchor=\"end\">%d</text>\n", px(left - 6).c_str(),
                px(y + ch / 2 + 4).c_str(), g.layers[r]);
    for (size_t c = 0; c < g.families.size(); ++c)
      if (g.cell[r][c] >= 0) s += cell(static_cast<size_t>(g.cell[r][c]), left + cw * static_cast<double>(c), y);
  }
  if (!g.outside.empty()) {
    s += strf("<text class=\"axis-label\" x=\"%s\" y=\"%s\">outside the layers</text>\n", px(left).c_str(),
              px(outside_top - 8).c_str());
    for (size_t k = 0; k < g.outside.size(); ++k) {
      const double x = left + cw * static_cast<double>(k);
      s += cell(g.outside[k], x, outside_top);
      s += strf("<text class=\"column-label\" x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>\n", px(x + cw / 2).c_str(),
                px(outside_top + ch + 14).c_str(), esc(a.tensors[g.outside[k]].family).c_str());
    }
  }
  // The colour legend: a bar with the dB range.
  const double bar_h = 220, bar_y = top;
  s += strf("<g class=\"legend\"><rect class=\"legend-bar\" x=\"%s\" y=\"%s\" width=\"18\" height=\"%s\" "
            "fill=\"url(#heat-scale)\" stroke=\"#999\"/>",
            px(legend_x).c_str(), px(bar_y).c_str(), px(bar_h).c_str());
  for (double v : svg::ticks(lo, hi, 5)) {
    const double y = bar_y + bar_h * (1 - (v - lo) / (hi - lo));
    s += strf("<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#333\"/><text class=\"tick\" x=\"%s\" y=\"%s\">%g "
              "dB</text>",
              px(legend_x + 18).c_str(), px(legend_x + 23).c_str(), px(y).c_str(), px(y).c_str(), px(legend_x + 26).c_str(),
              px(y + 4).c_str(), v);
  }
  s += strf("<text class=\"tick\" x=\"%s\" y=\"%s\">SQNR</text></g>\n", px(legend_x).c_str(), px(bar_y - 8).c_str());
  s += "</svg>\n";
  return s;
}

}  // namespace qkv::analysis
