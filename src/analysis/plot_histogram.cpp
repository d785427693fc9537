#include <algorithm>
#include <cmath>

#include "analysis/format.h"
#include "analysis/plots.h"
#include "analysis/svg.h"

namespace qkv::analysis {

std::string histogram_svg(const FamilyHistogram& f) {
  using svg::esc;
  using svg::px;
  constexpr double kW = 320, kH = 200, kLeft = 46, kRight = 10, kTop = 36, kBottom = 34;
  const Histogram& h = f.histogram;
  const uint64_t n = h.total();
  uint64_t peak = 1;
  for (uint64_t c : h.bins) peak = std::max(peak, c);
  // Counts on a log scale from 1/2 (so a single weight still shows) to the peak.
  const double ytop = std::ceil(std::log10(static_cast<double>(peak)) + 1e-9);
  const svg::Scale sx{-Histogram::kRange, Histogram::kRange, kLeft, kW - kRight};
  const svg::Scale sy{std::log10(0.5), std::max(ytop, 1.0), kH - kBottom, kTop};
  const double bw = (kW - kLeft - kRight) / Histogram::kBins;

  std::string s = strf("<svg class=\"histogram plot\" data-family=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
                       "viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"histogram of %s\">\n",
                       esc(f.family).c_str(), kW, kH, kW, kH, esc(f.family).c_str());
  s += strf("<text class=\"plot-title\" x=\"%s\" y=\"14\">%s</text>", px(kLeft).c_str(), esc(f.family).c_str());
  const std::string lo = strf("%.3g", f.min_std), hi = strf("%.3g", f.max_std);
  s += strf("<text class=\"tick\" x=\"%s\" y=\"28\">%zu tensor%s, std %s, kurtosis %.2f</text>\n", px(kLeft).c_str(),
            f.tensors, f.tensors == 1 ? "" : "s", (lo == hi ? lo : lo + "\u2013" + hi).c_str(), f.mean_kurtosis);
  for (double d = 0; d <= sy.d1 + 1e-9; d += 1) {
    const double y = sy(d);
    s += strf("<line class=\"grid\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#eee\"/><text class=\"tick\" x=\"%s\" "
              "y=\"%s\" text-anchor=\"end\">%s</text>",
              px(kLeft).c_str(), px(kW - kRight).c_str(), px(y).c_str(), px(y).c_str(), px(kLeft - 4).c_str(),
              px(y + 3.5).c_str(), d < 4 ? strf("%.0f", std::pow(10.0, d)).c_str() : strf("1e%.0f", d).c_str());
  }
  s += "\n";
  for (int i = 0; i < Histogram::kBins; ++i) {
    const uint64_t c = h.bins[static_cast<size_t>(i)];
    if (!c) continue;
    const double y = sy(std::log10(static_cast<double>(c)));
    const double lo = Histogram::bin_low(i), hi = Histogram::bin_low(i + 1);
    s += strf("<rect class=\"bar\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"#4a7fb5\"><title>%+.2f\u03c3 to "
              "%+.2f\u03c3: %llu weights (%.3g%%)</title></rect>\n",
              px(sx(lo)).c_str(), px(y).c_str(), px(std::max(bw - 0.3, 0.5)).c_str(), px(sy.r0 - y).c_str(), lo, hi,
              static_cast<unsigned long long>(c), n ? 100.0 * static_cast<double>(c) / static_cast<double>(n) : 0.0);
  }
  // What a Gaussian with the same count would put in each bin.
  std::string d;
  for (int i = 0; i < Histogram::kBins; ++i) {
    const double lo = Histogram::bin_low(i), hi = Histogram::bin_low(i + 1);
    const double p = 0.5 * (std::erfc(-hi / std::sqrt(2.0)) - std::erfc(-lo / std::sqrt(2.0)));
    const double e = p * static_cast<double>(n);
    if (e < 0.5) continue;
    d += (d.empty() ? "M" : " L") + px(sx((lo + hi) / 2)) + " " + px(sy(std::log10(e)));
  }
  if (!d.empty())
    s += "<path class=\"gaussian\" d=\"" + d +
         "\" fill=\"none\" stroke=\"#d35400\" stroke-width=\"1.3\" stroke-dasharray=\"4 2\"><title>a Gaussian with the "
         "same count</title></path>\n";
  for (int z = -8; z <= 8; z += 2) {
    const double x = sx(z);
    s += strf("<line x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#888\"/><text class=\"tick\" x=\"%s\" y=\"%s\" "
              "text-anchor=\"middle\">%d\u03c3</text>",
              px(x).c_str(), px(x).c_str(), px(kH - kBottom).c_str(), px(kH - kBottom + 4).c_str(), px(x).c_str(),
              px(kH - kBottom + 15).c_str(), z);
  }
  s += strf("<text class=\"tick\" x=\"%s\" y=\"%s\" text-anchor=\"middle\">(w \u2212 mean) / std; beyond \u00b18\u03c3: "
            "%llu</text>\n",
            px((kLeft + kW - kRight) / 2).c_str(), px(kH - 4).c_str(), static_cast<unsigned long long>(h.below + h.above));
  s += "</svg>\n";
  return s;
}

}  // namespace qkv::analysis
