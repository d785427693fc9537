// Small pieces for hand-written SVG: escaping, scales, ticks, a colour ramp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qkv::analysis::svg {

// Escapes & < > " ' for text and attribute values.
std::string esc(std::string_view s);
// A coordinate with one decimal ("12.5").
std::string px(double x);

// Maps [d0, d1] linearly onto [r0, r1].
struct Scale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  double operator()(double v) const { return d1 == d0 ? (r0 + r1) / 2 : r0 + (v - d0) * (r1 - r0) / (d1 - d0); }
};

// About `approx` round-numbered ticks covering [lo, hi] (steps of 1, 2 or 5 x 10^k).
std::vector<double> ticks(double lo, double hi, int approx);

// The heat map's ramp, t in [0, 1]: 0 dark red (much error) ... 1 pale yellow (little).
std::string colour(double t);
// Black or white, whichever reads better on colour(t).
const char* ink(double t);

}  // namespace qkv::analysis::svg
