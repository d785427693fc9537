// The HTML report: one page, inline CSS and SVG, nothing fetched, no script.
#include <algorithm>
#include <cmath>

#include "analysis/format.h"
#include "analysis/plots.h"
#include "analysis/svg.h"

namespace qkv::analysis {
namespace {

using svg::esc;

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0 auto;max-width:1180px;padding:0 24px 48px}
h1{font-size:24px;margin:24px 0 4px}h2{font-size:19px;margin:36px 0 6px;border-bottom:1px solid #ddd;padding-bottom:4px}
p.lead{color:#444;margin:4px 0 12px}ul.highlights{background:#f6f8fb;border:1px solid #dde3ea;border-radius:6px;padding:10px 14px 10px 32px}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0}dl.facts dt{color:#666}dl.facts dd{margin:0}
nav a{margin-right:14px}svg.plot{display:block;margin:8px 0;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#333}svg text.axis-label{font-size:12.5px;fill:#222}svg text.plot-title{font-size:13px;font-weight:600}
svg text.recipe-label{font-size:11.5px;font-weight:600;fill:#7a3e00}svg text.cell-value{font-size:10px}
svg text.column-label{font-size:11px}.grid-plots{display:flex;flex-wrap:wrap;gap:6px 18px}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0}th,td{padding:3px 7px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;max-width:100%}.note{color:#666;font-size:12.5px}code{font-size:12.5px}
)";

std::string td(const std::string& s) { return "<td class=\"n\">" + s + "</td>"; }

std::string highlights(const ModelAnalysis& a) {
  std::vector<std::string> items;
  // The recipe furthest above the frontier, and the closest.
  const RecipePoint* worst = nullptr;
  double worst_ratio = 0;
  for (const auto& r : a.recipes) {
    if (!r.frontier_point || r.error <= 0) continue;
    const double ratio = a.frontier.points[*r.frontier_point].error / r.error;
    if (!worst || ratio < worst_ratio) worst = &r, worst_ratio = ratio;
  }
  if (worst)
    items.push_back(strf("At the size of <b>%s</b> (%.2f bits per weight) a better mix of types would have %.0f%% of its "
                         "predicted error (%s dB instead of %s dB): the largest gap of the recipes.",
                         esc(worst->name).c_str(), a.bits_per_weight(worst->bytes), 100 * worst_ratio,
                         db(sqnr_db(a.frontier.points[*worst->frontier_point].error)).c_str(),
                         db(sqnr_db(worst->error)).c_str()));
  // The most and least sensitive tensors at the heat map's type.
  // (Tensors whose row forced another type only when there are no others.)
  bool any_own = false;
  for (size_t i = 0; i < a.tensors.size(); ++i)
    any_own |= sensitivity_error(a, i) && *a.tensors[i].sensitivity_type == a.sensitivity_type;
  long lo = -1, hi = -1;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const QuantError* e = sensitivity_error(a, i);
    if (!e || !std::isfinite(e->sqnr_db()) || (any_own && e->type != a.sensitivity_type)) continue;
    if (lo < 0 || e->sqnr_db() < sensitivity_error(a, static_cast<size_t>(lo))->sqnr_db()) lo = static_cast<long>(i);
    if (hi < 0 || e->sqnr_db() > sensitivity_error(a, static_cast<size_t>(hi))->sqnr_db()) hi = static_cast<long>(i);
  }
  if (lo >= 0)
    items.push_back(strf("Most sensitive at %s: <code>%s</code> (%s dB); least: <code>%s</code> (%s dB).",
                         std::string(type_name(a.sensitivity_type)).c_str(), esc(a.tensors[static_cast<size_t>(lo)].name).c_str(),
                         db(sensitivity_error(a, static_cast<size_t>(lo))->sqnr_db()).c_str(),
                         esc(a.tensors[static_cast<size_t>(hi)].name).c_str(),
                         db(sensitivity_error(a, static_cast<size_t>(hi))->sqnr_db()).c_str()));
  // Heavy tails.
  const TensorAnalysis* tail = nullptr;
  for (const auto& t : a.tensors)
    if (t.readable && t.quantizable && (!tail || t.stats.kurtosis > tail->stats.kurtosis)) tail = &t;
  if (tail)
    items.push_back(strf("Heaviest tails: <code>%s</code>, kurtosis %.1f (a Gaussian has 3), max |w| = %.1f std, %.4f%% of "
                         "weights beyond 6 std.",
                         esc(tail->name).c_str(), tail->stats.kurtosis, tail->stats.max_abs_over_std(),
                         100 * tail->stats.beyond_6_sigma_fraction()));
  // Lossless: entropy against what the codecs reach, over the 16-bit tensors.
  double n = 0, h16 = 0, codec = 0;
  for (const auto& t : a.tensors)
    if (t.lossless && t.lossless->codec_bits > 0) {
      n += static_cast<double>(t.params);
      h16 += static_cast<double>(t.params) * t.lossless->entropy16;
      codec += static_cast<double>(t.params) * t.lossless->codec_bits;
    }
  if (n > 0)
    items.push_back(strf("Lossless: the 16-bit values carry %.2f bits of order-0 entropy per weight; the .qkv codecs store "
                         "them in %.2f bits (%.0f%% of 16).",
                         h16 / n, codec / n, 100 * codec / n / 16));
  std::string s = "<ul class=\"highlights\">\n";
  for (const auto& i : items) s += "<li>" + i + "</li>\n";
  return s + "</ul>\n";
}

std::string recipe_table(const ModelAnalysis& a) {
  std::string s = "<table id=\"recipes\"><tr><th>recipe</th><th>size</th><th>bits/weight</th><th>predicted error</th>"
                  "<th>SQNR</th><th>frontier at no more bytes</th><th>its SQNR</th><th>frontier's types there</th></tr>\n";
  for (size_t ri : recipes_by_size(a)) {
    const auto& r = a.recipes[ri];
    s += "<tr><td>" + esc(r.name) + "</td>" + td(megabytes(r.bytes)) + td(strf("%.3f", a.bits_per_weight(r.bytes))) +
         td(sci(r.error)) + td(db(sqnr_db(r.error)) + " dB");
    if (r.frontier_point) {
      const auto& p = a.frontier.points[*r.frontier_point];
      std::string types;
      for (const auto& [t, k] : frontier_type_counts(a, *r.frontier_point))
        types += (types.empty() ? "" : ", ") + std::string(type_name(t)) + " \u00d7" + std::to_string(k);
      s += td(sci(p.error)) + td(db(sqnr_db(p.error)) + " dB") + "<td>" + esc(types) + "</td>";
    } else {
      s += "<td>-</td><td>-</td><td>-</td>";
    }
    s += "</tr>\n";
  }
  s += "</table>\n";
  for (const auto& r : a.refused_recipes) s += "<p class=\"note\">Not applicable: " + esc(r) + "</p>\n";
  return s;
}

std::string tensor_table(const ModelAnalysis& a) {
  std::string s =
      "<div class=\"scroll\"><table id=\"tensors\"><tr><th>tensor</th><th>shape</th><th>type</th><th>params</th><th>mean</th>"
      "<th>std</th><th>kurtosis</th><th>max|w|/std</th><th>&gt;6 std</th><th>zeros</th><th>H(16-bit)</th>"
      "<th>H(exponent byte)</th><th>.qkv codecs, 16-bit</th><th>.qkv codecs, stored</th></tr>\n";
  for (const auto& t : a.tensors) {
    s += "<tr><td>" + esc(t.name) + "</td><td>" + shape_string(t.shape) + "</td><td>" + std::string(type_name(t.type)) +
         "</td>" + td(std::to_string(t.params));
    if (!t.readable) {
      s += "<td colspan=\"10\">not measured (QKV Core does not read this type)</td></tr>\n";
      continue;
    }
    const auto& st = t.stats;
    s += td(strf("%.3g", st.mean)) + td(strf("%.3g", st.stddev)) + td(strf("%.2f", st.kurtosis)) +
         td(strf("%.1f", st.max_abs_over_std())) + td(strf("%.4f%%", 100 * st.beyond_6_sigma_fraction())) +
         td(strf("%.2f%%", 100 * st.zero_fraction()));
    if (t.lossless) {
      const auto& l = *t.lossless;
      s += td(strf("%.2f", l.entropy16)) + td(strf("%.2f", l.entropy_high)) +
           td(l.codec_bits > 0 ? strf("%.2f (%s)", l.codec_bits, std::string(codec::codec_name(l.codec)).c_str()) : "-");
    } else {
      s += "<td>-</td><td>-</td><td>-</td>";
    }
    s += td(t.codec_stored && t.params ? strf("%.2f", 8.0 * double(t.codec_stored->bytes_out) / double(t.params)) : "-");
    s += "</tr>\n";
  }
  return s + "</table></div>\n";
}

std::string error_table(const ModelAnalysis& a) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& t : a.tensors)
    for (const auto& e : t.errors)
      if (std::isfinite(e.sqnr_db())) lo = std::min(lo, e.sqnr_db()), hi = std::max(hi, e.sqnr_db());
  if (!(hi > lo)) lo = 0, hi = 1;
  std::string s = "<div class=\"scroll\"><table id=\"errors\"><tr><th>tensor</th>";
  for (TensorType t : a.types) {
    const auto& ti = type_info(t);
    s += strf("<th>%s<br><span class=\"note\">%.2f b/w</span></th>", std::string(ti.name).c_str(),
              8.0 * ti.block_bytes / ti.block_elems);
  }
  s += "</tr>\n";
  for (const auto& t : a.tensors) {
    if (t.errors.empty()) continue;
    s += "<tr><td>" + esc(t.name) + (t.imatrix ? " <span class=\"note\">(imatrix)</span>" : "") + "</td>";
    for (TensorType type : a.types) {
      const QuantError* e = t.error_for(type);
      if (!e) {
        s += "<td class=\"n note\">-</td>";
        continue;
      }
      const double v = e->sqnr_db(), tt = std::isfinite(v) ? (v - lo) / (hi - lo) : 1.0;
      s += strf("<td class=\"n\" style=\"background:%s;color:%s\" title=\"relative error %s\">%s</td>", svg::colour(tt).c_str(),
                svg::ink(tt), sci(e->rel_error).c_str(), db(v).c_str());
    }
    s += "</tr>\n";
  }
  return s + "</table></div>\n";
}

}  // namespace

std::string report_html(const ModelAnalysis& a) {
  const std::string file = a.path.substr(a.path.find_last_of('/') == std::string::npos ? 0 : a.path.find_last_of('/') + 1);
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>qkv analyze: " + esc(file) +
                  "</title>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<style>" + kStyle +
                  "</style></head><body>\n";
  s += "<h1>qkv analyze: " + esc(file) + "</h1>\n";
  s += strf("<p class=\"lead\">What each of the model's tensors looks like and what every GGUF quantization type would do "
            "to it: the smallest predicted error for each size, llama.cpp's recipes against it, which layers suffer most, "
            "and how the weights are distributed.</p>\n");
  s += "<dl class=\"facts\">";
  s += "<dt>file</dt><dd><code>" + esc(a.path) + "</code></dd>";
  s += "<dt>architecture</dt><dd>" + esc(a.arch.empty() ? "unknown" : a.arch) + "</dd>";
  s += strf("<dt>parameters</dt><dd>%.4g M in %zu tensors</dd>", a.params / 1e6, a.tensors.size());
  s += strf("<dt>tensor data</dt><dd>%s (%.2f bits per weight)</dd>", megabytes(a.bytes).c_str(), a.bits_per_weight(a.bytes));
  s += "<dt>errors</dt><dd>" +
       (a.imatrix_path.empty() ? std::string("plain relative squared error (no importance matrix)")
                               : strf("weighted by the importance matrix <code>%s</code> (%zu tensors covered)",
                                      esc(a.imatrix_path).c_str(), a.imatrix_matched)) +
       "</dd>";
  s += "<dt>sample</dt><dd>" +
       (a.sample ? strf("at most %llu weights per tensor, whole rows evenly spaced", static_cast<unsigned long long>(a.sample))
                 : std::string("every row")) +
       "</dd>";
  s += strf("<dt>time</dt><dd>%.2f s on %d threads</dd>", a.seconds, a.threads);
  if (const auto skipped = unmeasured(a); !skipped.empty()) {
    s += "<dt>not measured</dt><dd>";
    for (const auto& n : skipped) s += "<code>" + esc(n) + "</code> ";
    s += "(NaN/inf values or an unread type: the frontier and the recipes count them as no error)</dd>";
  }
  s += "</dl>\n";
  if (a.tensors.empty()) return s + "<p>This file holds no tensors.</p>\n</body></html>\n";
  s += highlights(a);
  s += "<nav><a href=\"#size-error\">size vs error</a><a href=\"#sensitivity\">sensitivity</a><a "
       "href=\"#distributions\">distributions</a><a href=\"#tensor-stats\">tensors</a><a href=\"#type-errors\">errors per "
       "type</a></nav>\n";

  s += "<h2 id=\"size-error\">Size versus predicted error</h2>\n<p class=\"note\">The predicted error of a choice of types is "
       "the parameter-weighted mean of each tensor's relative squared error after quantize \u2192 dequantize"
       " (importance-weighted where the imatrix covers the tensor). The frontier is the least predicted error any choice "
       "of one type per tensor reaches at no more bytes: dynamic programming over sizes in steps of 1/65536 of the "
       "largest choice, joined with greedy bit allocation, whose points (the lower convex hull) are exact optima. Each "
       "recipe's dashed line runs to the frontier at its size. Hover over the marks for values and type mixes.</p>\n";
  s += pareto_svg(a);
  s += recipe_table(a);

  s += "<h2 id=\"sensitivity\">Per-layer sensitivity</h2>\n";
  const std::string hm = heatmap_svg(a);
  s += hm.empty() ? "<p class=\"note\">No tensor could be measured at this type.</p>\n"
                  : strf("<p class=\"note\">Each cell: the tensor's SQNR after a round trip through %s (what "
                         "<code>qkv quantize ... %s</code> gives it; * marks llama.cpp's fallback type where the row does not "
                         "fit). Darker cells lose more.</p>\n",
                         std::string(type_name(a.sensitivity_type)).c_str(),
                         std::string(type_name(a.sensitivity_type)).c_str()) +
                        hm;

  s += "<h2 id=\"distributions\">Weight distributions per tensor family</h2>\n<p class=\"note\">Each tensor's values "
       "standardised by its own mean and standard deviation, summed over the family's tensors; counts on a log scale, "
       "the dashed line is a Gaussian with the same count. Tails above the line are the outliers that cost quantizers "
       "precision.</p>\n<div class=\"grid-plots\">\n";
  for (const auto& f : a.families) s += histogram_svg(f);
  s += "</div>\n";

  s += "<h2 id=\"tensor-stats\">Tensors</h2>\n<p class=\"note\">Entropies and codec sizes in bits per weight. H(16-bit) is "
       "the order-0 entropy of the 16-bit values (F32 tensors measured as their F16 rounding), the bound of any code that "
       "treats each value alone; H(exponent byte) that of their high byte. The .qkv codecs columns are what "
       "<code>qkv compress</code> stores.</p>\n";
  s += tensor_table(a);
  s += "<h2 id=\"type-errors\">SQNR per type (dB)</h2>\n<p class=\"note\">10 log10 of 1 / relative error; '-' where the "
       "type's block does not divide the row. Hover a cell for the relative error.</p>\n";
  s += error_table(a);
  s += "<p class=\"note\">Generated by qkv " QKV_VERSION " (<code>qkv analyze</code>).</p>\n</body></html>\n";
  return s;
}

}  // namespace qkv::analysis
