// The machine-readable report. Non-finite numbers (an exact round trip's SQNR)
// are written as null.
#include <cmath>
#include <nlohmann/json.hpp>

#include "analysis/format.h"
#include "qkv/analysis.h"

namespace qkv::analysis {
namespace {

using nlohmann::json;

json num(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }
std::string name(TensorType t) { return std::string(type_name(t)); }

json histogram_json(const Histogram& h) {
  return {{"lo", -Histogram::kRange}, {"hi", Histogram::kRange}, {"bins", h.bins}, {"below", h.below}, {"above", h.above}};
}

json tensor_json(const TensorAnalysis& t) {
  json j = {{"name", t.name},
            {"family", t.family},
            {"layer", t.layer >= 0 ? json(t.layer) : json(nullptr)},
            {"shape", t.shape},
            {"type", name(t.type)},
            {"params", t.params},
            {"bytes", t.bytes},
            {"readable", t.readable},
            {"quantizable", t.quantizable},
            {"imatrix", t.imatrix},
            {"rows", t.rows},
            {"sampled_rows", t.sampled_rows}};
  if (t.readable) {
    const auto& s = t.stats;
    j["stats"] = {{"count", s.count},
                  {"nonfinite", s.nonfinite},
                  {"mean", num(s.mean)},
                  {"std", num(s.stddev)},
                  {"kurtosis", num(s.kurtosis)},
                  {"max_abs", num(s.max_abs)},
                  {"max_abs_over_std", num(s.max_abs_over_std())},
                  {"beyond_6_sigma", s.beyond_6_sigma_fraction()},
                  {"zeros", s.zero_fraction()}};
  } else {
    j["stats"] = nullptr;
  }
  if (t.lossless) {
    const auto& l = *t.lossless;
    j["lossless"] = {{"form", name(l.form)},
                     {"converted", l.converted},
                     {"entropy16_bits", l.entropy16},
                     {"entropy_high_byte_bits", l.entropy_high},
                     {"entropy_low_byte_bits", l.entropy_low},
                     {"qkv_codec_bits", l.codec_bits > 0 ? json(l.codec_bits) : json(nullptr)},
                     {"qkv_codec", std::string(codec::codec_name(l.codec))}};
  } else {
    j["lossless"] = nullptr;
  }
  if (t.codec_stored && t.params)
    j["codec_stored"] = {{"bytes", t.codec_stored->bytes_in},
                         {"compressed", t.codec_stored->bytes_out},
                         {"bits_per_weight", 8.0 * double(t.codec_stored->bytes_out) / double(t.params)},
                         {"codec", std::string(codec::codec_name(t.codec_stored->main_codec))}};
  else
    j["codec_stored"] = nullptr;
  json errors = json::array();
  for (const auto& e : t.errors)
    errors.push_back({{"type", name(e.type)},
                      {"bytes", e.bytes},
                      {"bits_per_weight", e.bits_per_weight},
                      {"rel_error", num(e.rel_error)},
                      {"sqnr_db", num(e.sqnr_db())},
                      {"imatrix_used", e.imatrix_used}});
  j["errors"] = errors;
  j["sensitivity_type"] = t.sensitivity_type ? json(name(*t.sensitivity_type)) : json(nullptr);
  return j;
}

json point_json(const ModelAnalysis& a, uint64_t bytes, double error) {
  return {{"bytes", bytes}, {"bits_per_weight", a.bits_per_weight(bytes)}, {"error", num(error)}, {"sqnr_db", num(sqnr_db(error))}};
}

}  // namespace

std::string report_json(const ModelAnalysis& a) {
  json j = {{"file", a.path},
            {"arch", a.arch},
            {"params", a.params},
            {"bytes", a.bytes},
            {"bits_per_weight", a.bits_per_weight(a.bytes)},
            {"imatrix", a.imatrix_path.empty() ? json(nullptr) : json(a.imatrix_path)},
            {"imatrix_tensors", a.imatrix_matched},
            {"sample_weights_per_tensor", a.sample},
            {"threads", a.threads},
            {"seconds", a.seconds},
            {"sensitivity_type", name(a.sensitivity_type)},
            {"error_measure",
             "sum over tensors of params * relative squared error (importance-weighted when an imatrix covers the "
             "tensor) divided by the model's parameter count"}};
  json types = json::array();
  for (TensorType t : a.types) types.push_back(name(t));
  j["types"] = types;

  json tensors = json::array();
  for (const auto& t : a.tensors) tensors.push_back(tensor_json(t));
  j["tensors"] = tensors;

  json families = json::array();
  for (const auto& f : a.families)
    families.push_back({{"family", f.family},
                        {"tensors", f.tensors},
                        {"min_std", f.min_std},
                        {"max_std", f.max_std},
                        {"mean_kurtosis", f.mean_kurtosis},
                        {"histogram_of_standardized_values", histogram_json(f.histogram)}});
  j["families"] = families;

  const LayerGrid g = layer_grid(a);
  json layers = json::array();
  for (size_t r = 0; r < g.layers.size(); ++r) {
    json cells = json::object();
    for (size_t c = 0; c < g.families.size(); ++c) {
      if (g.cell[r][c] < 0) continue;
      const size_t i = static_cast<size_t>(g.cell[r][c]);
      const QuantError* e = sensitivity_error(a, i);
      cells[g.families[c]] = {{"tensor", a.tensors[i].name},
                              {"type", name(e->type)},
                              {"rel_error", num(e->rel_error)},
                              {"sqnr_db", num(e->sqnr_db())}};
    }
    layers.push_back({{"layer", g.layers[r]}, {"tensors", cells}});
  }
  j["layers"] = layers;

  json frontier = json::array();
  for (const auto& p : a.frontier.points) frontier.push_back(point_json(a, p.bytes, p.error));
  j["frontier"] = frontier;

  json recipes = json::array();
  for (size_t ri : recipes_by_size(a)) {
    const auto& r = a.recipes[ri];
    json rj = point_json(a, r.bytes, r.error);
    rj["name"] = r.name;
    if (r.frontier_point) {
      const auto& p = a.frontier.points[*r.frontier_point];
      json fj = point_json(a, p.bytes, p.error);
      json counts = json::object();
      for (const auto& [t, n] : frontier_type_counts(a, *r.frontier_point)) counts[name(t)] = n;
      fj["types"] = counts;
      rj["frontier"] = fj;
    } else {
      rj["frontier"] = nullptr;
    }
    json tt = json::object();
    for (size_t i = 0; i < a.tensors.size(); ++i) tt[a.tensors[i].name] = name(r.types[i]);
    rj["tensor_types"] = tt;
    recipes.push_back(rj);
  }
  j["recipes"] = recipes;
  j["refused_recipes"] = a.refused_recipes;
  j["unmeasured_tensors"] = unmeasured(a);
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace qkv::analysis
