#include "analysis/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace qkv::analysis::svg {

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string px(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", std::isfinite(x) ? x : 0.0);
  return b;
}

std::vector<double> ticks(double lo, double hi, int approx) {
  std::vector<double> out;
  if (!(hi > lo) || approx < 1) return out;
  const double raw = (hi - lo) / approx, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return out;
}

namespace {

// ColorBrewer's YlOrRd, dark to light.
constexpr unsigned kRamp[] = {0x800026, 0xbd0026, 0xe31a1c, 0xfc4e2a, 0xfd8d3c, 0xfeb24c, 0xfed976, 0xffeda0, 0xffffcc};

}  // namespace

std::string colour(double t) {
  t = std::clamp(std::isfinite(t) ? t : 1.0, 0.0, 1.0);
  const double pos = t * (std::size(kRamp) - 1);
  const size_t i = std::min(static_cast<size_t>(pos), std::size(kRamp) - 2);
  const double f = pos - static_cast<double>(i);
  auto mix = [&](int shift) {
    const double a = (kRamp[i] >> shift) & 0xFF, b = (kRamp[i + 1] >> shift) & 0xFF;
    return static_cast<unsigned>(std::lround(a + (b - a) * f));
  };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(16), mix(8), mix(0));
  return buf;
}

const char* ink(double t) { return t < 0.45 ? "#fff" : "#222"; }

}  // namespace qkv::analysis::svg
