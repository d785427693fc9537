#include <algorithm>
#include <cmath>

#include "analysis/format.h"
#include "analysis/plots.h"
#include "analysis/svg.h"

namespace qkv::analysis {
namespace {

constexpr double kW = 1060, kH = 600, kLeft = 92, kRight = 70, kTop = 28, kBottom = 62;

struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

std::string types_text(const std::vector<std::pair<TensorType, size_t>>& counts) {
  std::string s;
  for (const auto& [t, n] : counts) s += (s.empty() ? "" : ", ") + std::string(type_name(t)) + " \u00d7" + std::to_string(n);
  return s;
}

}  // namespace

std::string pareto_svg(const ModelAnalysis& a) {
  using svg::esc;
  using svg::px;
  const auto& pts = a.frontier.points;
  if (pts.empty()) return "";
  // x: from the smallest point to just past the largest recipe (F16 / BF16 lie beyond).
  double xlo = a.bits_per_weight(pts.front().bytes), xhi = a.bits_per_weight(pts.back().bytes);
  if (!a.recipes.empty()) {
    double rmax = 0;
    for (const auto& r : a.recipes) {
      xlo = std::min(xlo, a.bits_per_weight(r.bytes));
      rmax = std::max(rmax, a.bits_per_weight(r.bytes));
    }
    xhi = std::min(xhi, rmax + 1.0);
  }
  xlo = std::floor(xlo);
  xhi = std::max(std::ceil(xhi), xlo + 1);
  // y: log10 of the error, decades covering what is inside the x range.
  double emin = INFINITY, emax = 0;
  auto consider = [&](double bpw, double e) {
    if (bpw >= xlo && bpw <= xhi && e > 0) emin = std::min(emin, e), emax = std::max(emax, e);
  };
  for (const auto& p : pts) consider(a.bits_per_weight(p.bytes), p.error);
  for (const auto& r : a.recipes) consider(a.bits_per_weight(r.bytes), r.error);
  if (!(emax > 0)) emin = 1e-6, emax = 1;
  const double ylo = std::floor(std::log10(emin)), yhi = std::max(std::ceil(std::log10(emax)), ylo + 1);
  const svg::Scale sx{xlo, xhi, kLeft, kW - kRight}, sy{ylo, yhi, kH - kBottom, kTop};
  auto Y = [&](double e) { return e > 0 ? sy(std::clamp(std::log10(e), ylo, yhi)) : sy(ylo); };
  auto X = [&](uint64_t bytes) { return sx(a.bits_per_weight(bytes)); };

  std::string s = strf("<svg id=\"pareto\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                       "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"size versus predicted error\">\n",
                       kW, kH, kW, kH);
  s += strf("<defs><clipPath id=\"pareto-clip\"><rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"/></clipPath></defs>\n",
            px(kLeft).c_str(), px(kTop).c_str(), px(kW - kLeft - kRight).c_str(), px(kH - kTop - kBottom).c_str());
  s += strf("<rect class=\"frame\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"#fcfcfc\" stroke=\"#999\"/>\n",
            px(kLeft).c_str(), px(kTop).c_str(), px(kW - kLeft - kRight).c_str(), px(kH - kTop - kBottom).c_str());
  // Grid and axes: decades of error on the left, the same lines in dB on the right.
  for (double d = ylo; d <= yhi + 1e-9; d += 1) {
    const double y = sy(d);
    s += strf("<line class=\"grid\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#e4e4e4\"/>", px(kLeft).c_str(),
              px(kW - kRight).c_str(), px(y).c_str(), px(y).c_str());
    const std::string label = d >= -3 && d <= 0 ? strf("%g", std::pow(10.0, d)) : strf("1e%.0f", d);
    s += strf("<text class=\"tick\" x=\"%s\" y=\"%s\" text-anchor=\"end\">%s</text>", px(kLeft - 6).c_str(),
              px(y + 4).c_str(), label.c_str());
    s += strf("<text class=\"tick\" x=\"%s\" y=\"%s\">%.0f dB</text>\n", px(kW - kRight + 6).c_str(), px(y + 4).c_str(),
              d == 0 ? 0.0 : -10 * d);
  }
  for (double v : svg::ticks(xlo, xhi, 10)) {
    const double x = sx(v);
    s += strf("<line class=\"grid\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#e4e4e4\"/>", px(x).c_str(),
              px(x).c_str(), px(kTop).c_str(), px(kH - kBottom).c_str());
    s += strf("<text class=\"tick\" x=\"%s\" y=\"%s\" text-anchor=\"middle\">%g</text>\n", px(x).c_str(),
              px(kH - kBottom + 16).c_str(), v);
  }
  s += strf("<text class=\"axis-label\" x=\"%s\" y=\"%s\" text-anchor=\"middle\">bits per weight (tensor data \u00f7 "
            "parameters)</text>\n",
            px((kLeft + kW - kRight) / 2).c_str(), px(kH - 18).c_str());
  s += strf("<text class=\"axis-label\" transform=\"translate(20 %s) rotate(-90)\" text-anchor=\"middle\">predicted "
            "error (parameter-weighted relative squared error)</text>\n",
            px((kTop + kH - kBottom) / 2).c_str());
  s += strf("<text class=\"axis-label\" transform=\"translate(%s %s) rotate(90)\" text-anchor=\"middle\">SQNR (dB)</text>\n",
            px(kW - 14).c_str(), px((kTop + kH - kBottom) / 2).c_str());

  // The frontier: the least error at most this size, a staircase through its points.
  // Points less than half a pixel apart share one vertical stroke.
  std::string d = "M" + px(X(pts[0].bytes)) + " " + px(Y(pts[0].error));
  double at_x = X(pts[0].bytes);
  for (size_t k = 1; k < pts.size(); ++k) {
    const double x = X(pts[k].bytes), y = Y(pts[k].error);
    if (x - at_x >= 0.5) d += " H" + px(x), at_x = x;
    if (k + 1 == pts.size() || X(pts[k + 1].bytes) - at_x >= 0.5) d += " V" + px(y);
  }
  d += " H" + px(kW - kRight);
  s += "<g clip-path=\"url(#pareto-clip)\">\n<path class=\"frontier\" d=\"" + d +
       "\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\"><title>frontier: the least predicted error any choice of "
       "one type per tensor reaches at no more bytes</title></path>\n";
  // Hover points along it, a few pixels apart, with their mix of types.
  double last_x = -1e9;
  for (size_t k = 0; k < pts.size(); ++k) {
    const double x = X(pts[k].bytes);
    if (x < kLeft || x > kW - kRight || (x - last_x < 5 && k + 1 != pts.size())) continue;
    last_x = x;
    s += strf("<circle class=\"frontier-point\" cx=\"%s\" cy=\"%s\" r=\"3\" fill=\"#1f5fa8\" fill-opacity=\"0.3\"><title>%.3f bits per "
              "weight (%s): error %s, SQNR %s dB\n%s</title></circle>\n",
              px(x).c_str(), px(Y(pts[k].error)).c_str(), a.bits_per_weight(pts[k].bytes),
              megabytes(pts[k].bytes).c_str(), sci(pts[k].error).c_str(), db(sqnr_db(pts[k].error)).c_str(),
              esc(types_text(frontier_type_counts(a, k))).c_str());
  }
  s += "</g>\n";

  // Recipes: a marker, a dashed line down (or up) to the frontier at the same size, a label.
  std::vector<Box> placed;  // labels avoid the markers and each other
  for (const auto& r : a.recipes) placed.push_back({X(r.bytes) - 6, Y(r.error) - 6, X(r.bytes) + 6, Y(r.error) + 6});
  for (size_t ri : recipes_by_size(a)) {
    const auto& r = a.recipes[ri];
    const double x = X(r.bytes), y = Y(r.error);
    if (x < kLeft - 1 || x > kW - kRight + 1) continue;
    std::string tip = strf("%s: %s, %.3f bits per weight; error %s, SQNR %s dB", r.name.c_str(), megabytes(r.bytes).c_str(),
                           a.bits_per_weight(r.bytes), sci(r.error).c_str(), db(sqnr_db(r.error)).c_str());
    if (r.frontier_point) {
      const auto& p = pts[*r.frontier_point];
      tip += strf("\nthe frontier at no more bytes: error %s, SQNR %s dB (%s)", sci(p.error).c_str(),
                  db(sqnr_db(p.error)).c_str(), types_text(frontier_type_counts(a, *r.frontier_point)).c_str());
      s += strf("<line class=\"gap\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#c0392b\" stroke-dasharray=\"3 3\"/>\n",
                px(x).c_str(), px(x).c_str(), px(y).c_str(), px(Y(p.error)).c_str());
    }
    s += strf("<circle class=\"recipe\" data-recipe=\"%s\" cx=\"%s\" cy=\"%s\" r=\"5.5\" fill=\"#e67e22\" stroke=\"#7a3e00\" "
              "stroke-width=\"1.2\"><title>%s</title></circle>\n",
              esc(r.name).c_str(), px(x).c_str(), px(y).c_str(), esc(tip).c_str());
    // The label goes where it overlaps no earlier one.
    const double w = 7.0 * static_cast<double>(r.name.size()) + 4, h = 13;
    auto place = [&] {
      for (double dy : {-18.0, 6.0, -32.0, 20.0, -46.0, 34.0, -60.0, 48.0, -74.0, 62.0})
        for (double dx : {8.0, -8.0 - w}) {
          const Box b{x + dx, y + dy, x + dx + w, y + dy + h};
          if (b.x0 > kLeft && b.x1 < kW - kRight && b.y0 > kTop && b.y1 < kH - kBottom &&
              std::none_of(placed.begin(), placed.end(), [&](const Box& o) { return o.overlaps(b); }))
            return b;
        }
      return Box{x + 8, y - 18, x + 8 + w, y - 18 + h};
    };
    const Box best = place();
    placed.push_back(best);
    // A leader line when the label had to move away from its marker.
    if (best.y1 < y - 20 || best.y0 > y + 20)
      s += strf("<line class=\"leader\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#b07a4a\" stroke-width=\"0.8\"/>\n",
                px(x).c_str(), px(y).c_str(), px(best.x0 < x ? best.x1 : best.x0).c_str(),
                px(best.y1 < y ? best.y1 : best.y0).c_str());
    s += strf("<text class=\"recipe-label\" x=\"%s\" y=\"%s\">%s</text>\n", px(best.x0 + 2).c_str(),
              px(best.y1 - 2).c_str(), esc(r.name).c_str());
  }
  // Legend.
  const double lx = kW - kRight - 250, ly = kTop + 14;
  s += strf("<g class=\"legend\"><rect x=\"%s\" y=\"%s\" width=\"240\" height=\"46\" fill=\"#fff\" stroke=\"#ccc\"/>"
            "<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#1f5fa8\" stroke-width=\"2\"/>"
            "<text x=\"%s\" y=\"%s\">frontier (best mix of types per tensor)</text>"
            "<circle cx=\"%s\" cy=\"%s\" r=\"5\" fill=\"#e67e22\" stroke=\"#7a3e00\"/>"
            "<text x=\"%s\" y=\"%s\">llama.cpp recipe (dashed: gap to frontier)</text></g>\n",
            px(lx).c_str(), px(ly - 8).c_str(), px(lx + 8).c_str(), px(lx + 30).c_str(), px(ly + 6).c_str(),
            px(ly + 6).c_str(), px(lx + 36).c_str(), px(ly + 10).c_str(), px(lx + 19).c_str(), px(ly + 26).c_str(),
            px(lx + 36).c_str(), px(ly + 30).c_str());
  s += "</svg>\n";
  return s;
}

}  // namespace qkv::analysis
