// The terminal report: a summary, then one table per question.
#include <algorithm>
#include <cmath>

#include "analysis/format.h"
#include "qkv/analysis.h"

namespace qkv::analysis {
namespace {

std::string summary(const ModelAnalysis& a) {
  size_t quantizable = 0;
  for (const auto& t : a.tensors) quantizable += t.quantizable && !t.errors.empty();
  std::string s = strf("%s: %s, %.3f M parameters in %zu tensors, %s of tensor data (%.2f bits per weight)\n",
                       a.path.c_str(), a.arch.empty() ? "unknown architecture" : a.arch.c_str(), a.params / 1e6,
                       a.tensors.size(), megabytes(a.bytes).c_str(), a.bits_per_weight(a.bytes));
  if (a.imatrix_path.empty())
    s += "errors: plain relative squared error (no importance matrix)\n";
  else
    s += strf("errors: weighted by the importance matrix %s, which covers %zu of the %zu measured tensors\n",
              a.imatrix_path.c_str(), a.imatrix_matched, quantizable);
  s += a.sample ? strf("measured on at most %llu weights per tensor (whole rows, evenly spaced); ",
                       static_cast<unsigned long long>(a.sample))
                : std::string("measured on every row; ");
  s += strf("%d threads, %.2f s\n", a.threads, a.seconds);
  const auto skipped = unmeasured(a);
  if (!skipped.empty()) {
    s += "not measured (NaN/inf values or an unread type; counted as no error):";
    for (const auto& n : skipped) s += " " + n;
    s += "\n";
  }
  return s;
}

std::string stats_table(const ModelAnalysis& a) {
  std::string s = "\nTensors: statistics, and the lossless bound beside what the .qkv codecs reach (bits per weight)\n";
  s += strf("  %-32s %-16s %-6s %10s %10s %9s %8s %6s %8s %7s %6s %6s %6s %6s\n", "tensor", "shape", "type", "params",
            "mean", "std", "kurtosis", "max/s", ">6s", "zeros", "H16", "Hexp", "qkv16", "stored");
  for (const auto& t : a.tensors) {
    s += strf("  %-32s %-16s %-6s %10llu ", t.name.c_str(), shape_string(t.shape).c_str(),
              std::string(type_name(t.type)).c_str(), static_cast<unsigned long long>(t.params));
    if (!t.readable) {
      s += "(this type is not read; not measured)\n";
      continue;
    }
    const auto& st = t.stats;
    s += strf("%10.3g %9.3g %8.2f %6.1f %7.4f%% %6.2f%% ", st.mean, st.stddev, st.kurtosis, st.max_abs_over_std(),
              100 * st.beyond_6_sigma_fraction(), 100 * st.zero_fraction());
    if (t.lossless)
      s += strf("%6.2f %6.2f %6s ", t.lossless->entropy16, t.lossless->entropy_high,
                t.lossless->codec_bits > 0 ? strf("%.2f", t.lossless->codec_bits).c_str() : "-");
    else
      s += strf("%6s %6s %6s ", "-", "-", "-");
    if (t.codec_stored && t.params)
      s += strf("%6.2f", 8.0 * static_cast<double>(t.codec_stored->bytes_out) / static_cast<double>(t.params));
    else
      s += strf("%6s", "-");
    if (st.nonfinite) s += strf("  (%llu NaN/inf)", static_cast<unsigned long long>(st.nonfinite));
    s += "\n";
  }
  s += "  (H16: entropy of the 16-bit values; Hexp: of their high, sign-and-exponent byte; qkv16: the .qkv codecs\n"
       "   on the 16-bit values -- F32 tensors measured as F16; stored: the codecs on the bytes as stored)\n";
  return s;
}

std::string error_table(const ModelAnalysis& a) {
  std::string s = "\nQuantization: SQNR in dB per type (10 log10 of 1 / relative error; '-': the block does not divide the row)\n";
  s += strf("  %-32s", "tensor");
  for (TensorType t : a.types) s += strf(" %6s", std::string(type_name(t)).c_str());
  s += strf("\n  %-32s", "bits per weight");
  for (TensorType t : a.types) {
    const auto& ti = type_info(t);
    s += strf(" %6.2f", 8.0 * ti.block_bytes / ti.block_elems);
  }
  s += "\n";
  for (const auto& t : a.tensors) {
    if (t.errors.empty()) continue;
    s += strf("  %-32s", t.name.c_str());
    for (TensorType type : a.types) {
      const QuantError* e = t.error_for(type);
      s += strf(" %6s", e ? db(e->sqnr_db()).c_str() : "-");
    }
    if (t.imatrix) s += "  (imatrix)";
    if (t.sampled_rows < t.rows) s += strf("  (%llu of %llu rows)", static_cast<unsigned long long>(t.sampled_rows),
                                           static_cast<unsigned long long>(t.rows));
    s += "\n";
  }
  return s;
}

std::string sensitivity_table(const ModelAnalysis& a) {
  const LayerGrid g = layer_grid(a);
  if (g.layers.empty() && g.outside.empty()) return "";
  std::string s = strf("\nPer-layer sensitivity: SQNR in dB at %s (lower: more sensitive; * another type: the row does not fit)\n",
                       std::string(type_name(a.sensitivity_type)).c_str());
  if (!g.layers.empty()) {
    s += strf("  %-6s", "layer");
    for (const auto& f : g.families) s += strf(" %12s", f.c_str());
    s += "\n";
    for (size_t r = 0; r < g.layers.size(); ++r) {
      s += strf("  %-6d", g.layers[r]);
      for (size_t c = 0; c < g.families.size(); ++c) {
        const long i = g.cell[r][c];
        if (i < 0) {
          s += strf(" %12s", "");
          continue;
        }
        const auto& t = a.tensors[static_cast<size_t>(i)];
        const QuantError* e = sensitivity_error(a, static_cast<size_t>(i));
        s += strf(" %12s", (db(e->sqnr_db()) + (*t.sensitivity_type != a.sensitivity_type ? "*" : "")).c_str());
      }
      s += "\n";
    }
  }
  for (size_t i : g.outside) {
    const auto& t = a.tensors[i];
    s += strf("  %-24s %s dB at %s\n", t.name.c_str(), db(sensitivity_error(a, i)->sqnr_db()).c_str(),
              std::string(type_name(*t.sensitivity_type)).c_str());
  }
  return s;
}

std::string recipe_table(const ModelAnalysis& a) {
  std::string s =
      "\nllama.cpp's recipes against the frontier (error: the parameter-weighted mean of the tensors' relative\n"
      "squared errors; frontier: the least error a choice of one type per tensor reaches at no more bytes)\n";
  s += strf("  %-8s %11s %6s %10s %7s   %10s %7s %8s  %s\n", "recipe", "size", "bpw", "error", "SQNR", "frontier",
            "SQNR", "ratio", "frontier's types at that size");
  for (size_t ri : recipes_by_size(a)) {
    const auto& r = a.recipes[ri];
    s += strf("  %-8s %11s %6.2f %10s %7s", r.name.c_str(), megabytes(r.bytes).c_str(), a.bits_per_weight(r.bytes),
              sci(r.error).c_str(), db(sqnr_db(r.error)).c_str());
    if (r.frontier_point) {
      const auto& p = a.frontier.points[*r.frontier_point];
      std::string types;
      for (const auto& [t, n] : frontier_type_counts(a, *r.frontier_point))
        types += (types.empty() ? "" : " ") + std::string(type_name(t)) + "x" + std::to_string(n);
      s += strf("   %10s %7s %8s  %s", sci(p.error).c_str(), db(sqnr_db(p.error)).c_str(),
                r.error > 0 && p.error > 0 ? strf("%.2f", p.error / r.error).c_str() : "-", types.c_str());
    }
    s += "\n";
  }
  for (const auto& r : a.refused_recipes) s += "  not applicable: " + r + "\n";
  if (!a.frontier.points.empty()) {
    const auto& lo = a.frontier.points.front();
    const auto& hi = a.frontier.points.back();
    s += strf("  frontier: %zu points from %.2f bpw (%s dB) to %.2f bpw (%s dB)\n", a.frontier.points.size(),
              a.bits_per_weight(lo.bytes), db(sqnr_db(lo.error)).c_str(), a.bits_per_weight(hi.bytes),
              db(sqnr_db(hi.error)).c_str());
  }
  return s;
}

}  // namespace

std::string report_text(const ModelAnalysis& a) {
  if (a.tensors.empty()) return summary(a) + "no tensors: nothing to analyze\n";
  return summary(a) + stats_table(a) + error_table(a) + sensitivity_table(a) + recipe_table(a);
}

}  // namespace qkv::analysis
