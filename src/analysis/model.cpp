// analyze_model: every tensor of a GGUF measured once, then the frontier and
// llama.cpp's recipes computed from the per-tensor errors.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "qkv/analysis.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/fp16.h"
#include "qkv/gguf.h"
#include "qkv/imatrix.h"
#include "qkv/parallel.h"
#include "qkv/progress.h"
#include "qkv/pipeline.h"
#include "qkv/quant.h"
#include "qkv/recipe.h"

namespace qkv::analysis {
namespace {

// The llama.cpp file types marked on the frontier (the ternary and MXFP4_MOE
// types are meant for models trained for them).
constexpr std::string_view kRecipes[] = {"Q2_K",   "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0",   "Q4_1",
                                         "Q4_K_S", "Q4_K_M", "Q5_0",   "Q5_1",   "Q5_K_S", "Q5_K_M",
                                         "Q6_K",   "Q8_0",   "IQ4_NL", "IQ4_XS"};

// Every type we write, less those that need an imatrix when there is none.
std::vector<TensorType> default_types(bool has_imatrix) {
  std::vector<TensorType> out;
  for (const auto& ti : all_types())
    if (ti.type != TensorType::F32 && quant::can_quantize(ti.type) && (has_imatrix || !quant::requires_imatrix(ti.type)))
      out.push_back(ti.type);
  return out;
}

void add_unique(std::vector<TensorType>& v, TensorType t) {
  if (std::find(v.begin(), v.end(), t) == v.end()) v.push_back(t);
}

// The tensor as floats: the mapped bytes themselves for an aligned F32 tensor.
std::span<const float> as_floats(const gguf::TensorInfo& t, std::span<const uint8_t> data, std::vector<float>& buf,
                                 int threads) {
  const size_t n = static_cast<size_t>(t.n_elements());
  if (t.type == TensorType::F32 && reinterpret_cast<uintptr_t>(data.data()) % alignof(float) == 0)
    return {reinterpret_cast<const float*>(data.data()), n};
  buf.resize(n);
  if (t.type == TensorType::F32) {
    std::memcpy(buf.data(), data.data(), n * sizeof(float));
  } else {
    const int64_t n_per_row = static_cast<int64_t>(t.shape.empty() ? 1 : t.shape[0]);
    quant::dequantize(t.type, data.data(), buf.data(), static_cast<int64_t>(n) / n_per_row, n_per_row, threads);
  }
  return buf;
}

void measure_lossless(TensorAnalysis& ta, std::span<const uint8_t> data, std::span<const float> w,
                      const AnalyzeOptions& opts, int threads) {
  if (opts.codecs) ta.codec_stored = codec_size(data, ta.type, threads);
  if (ta.type == TensorType::F16 || ta.type == TensorType::BF16) {
    std::vector<uint16_t> v(w.size());
    std::memcpy(v.data(), data.data(), v.size() * 2);
    ta.lossless = lossless_16bit(v, ta.type, false, threads, false);
    if (ta.codec_stored) {  // the stored bytes are the 16-bit values
      ta.lossless->codec_bits = 8.0 * static_cast<double>(ta.codec_stored->bytes_out) / static_cast<double>(w.size());
      ta.lossless->codec = ta.codec_stored->main_codec;
    }
  } else if (ta.type == TensorType::F32) {
    std::vector<uint16_t> v(w.size());
    fp32_to_fp16_row(w.data(), v.data(), v.size());
    ta.lossless = lossless_16bit(v, TensorType::F16, true, threads, opts.codecs);
  }
}

void measure_errors(TensorAnalysis& ta, const gguf::TensorInfo& t, std::span<const float> w,
                    const std::vector<TensorType>& types, const quant::ImportanceMatrix& imatrix,
                    const AnalyzeOptions& opts, int threads) {
  const int64_t n_per_row = static_cast<int64_t>(t.shape[0]);
  const int64_t nrows = static_cast<int64_t>(ta.params) / n_per_row;
  const int64_t n_mat = t.shape.size() > 2 ? nrows / static_cast<int64_t>(t.shape[1]) : 1;
  const std::vector<float>* imp = imatrix.find(t.name);
  if (imp && imp->size() != static_cast<size_t>(n_per_row * n_mat))
    throw Error(ErrorKind::Usage, "the importance matrix has " + std::to_string(imp->size()) +
                                      " weights for this tensor, which needs " + std::to_string(n_per_row * n_mat),
                opts.imatrix_path, t.name);
  ta.imatrix = imp != nullptr;
  const auto rows = sample_rows(nrows, n_per_row, opts.sample);
  ta.sampled_rows = rows.size();
  // A type whose quantizer needs importance weights is measured only where the imatrix has this tensor.
  for (TensorType type : types)
    if (static_cast<uint64_t>(n_per_row) % type_info(type).block_elems == 0 && (imp || !quant::requires_imatrix(type)))
      ta.errors.push_back(quant_error(type, w, n_per_row, n_mat, imp ? imp->data() : nullptr, rows, threads));
}

void summarise_families(ModelAnalysis& a) {
  std::map<std::string, size_t> index;
  for (const auto& t : a.tensors) {
    if (!t.readable || t.stats.count == 0) continue;
    auto [it, fresh] = index.emplace(t.family, a.families.size());
    if (fresh) a.families.push_back({t.family, 0, t.stats.stddev, t.stats.stddev, 0, {}});
    FamilyHistogram& f = a.families[it->second];
    ++f.tensors;
    f.min_std = std::min(f.min_std, t.stats.stddev);
    f.max_std = std::max(f.max_std, t.stats.stddev);
    f.mean_kurtosis += t.stats.kurtosis;
    f.histogram.add(t.histogram);
  }
  for (auto& f : a.families) f.mean_kurtosis /= static_cast<double>(f.tensors);
}

// Each tensor's candidates; a tensor we cannot measure keeps its type.
void build_options(ModelAnalysis& a) {
  const double p = static_cast<double>(std::max<uint64_t>(a.params, 1));
  std::vector<std::vector<Option>> opts;
  for (const auto& t : a.tensors) {
    std::vector<ModelAnalysis::Candidate> c;
    for (const auto& e : t.errors)
      if (std::find(a.types.begin(), a.types.end(), e.type) != a.types.end() && std::isfinite(e.rel_error))
        c.push_back({e.type, e.bytes, static_cast<double>(t.params) * e.rel_error / p});
    if (c.empty()) c.push_back({t.type, t.bytes, 0.0});
    std::vector<Option> o;
    for (const auto& x : c) o.push_back({x.bytes, x.error});
    a.options.push_back(std::move(c));
    opts.push_back(std::move(o));
  }
  a.frontier = compute_frontier(opts);
}

}  // namespace

std::string tensor_family(const std::string& name, int* layer) {
  std::string rest = name;
  int l = -1;
  if (int n = 0; std::sscanf(name.c_str(), "blk.%d.%n", &l, &n) == 1 && n > 0) rest = name.substr(static_cast<size_t>(n));
  else l = -1;
  if (rest.size() > 7 && rest.ends_with(".weight")) rest.resize(rest.size() - 7);
  if (layer) *layer = l;
  return rest;
}

const QuantError* TensorAnalysis::error_for(TensorType t) const {
  for (const auto& e : errors)
    if (e.type == t) return &e;
  return nullptr;
}

ModelAnalysis analyze_model(const std::string& path, const AnalyzeOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  const int threads = resolve_threads(opts.threads);
  bool mapped = false;
  const gguf::File f = pipeline::open_gguf(path, threads, &mapped);

  ModelAnalysis a;
  a.path = path;
  a.arch = f.metadata().get_string("general.architecture");
  a.imatrix_path = opts.imatrix_path;
  a.sample = opts.sample;
  a.threads = threads;
  a.sensitivity_type = opts.sensitivity_type;
  a.types = opts.types.empty() ? default_types(!opts.imatrix_path.empty()) : opts.types;
  for (TensorType t : a.types) {
    if (!quant::can_quantize(t))
      throw Error(ErrorKind::Usage, "cannot quantize to " + std::string(type_name(t)) + ", so its error cannot be measured");
    if (quant::requires_imatrix(t) && opts.imatrix_path.empty())
      throw Error(ErrorKind::Usage, "quantizing to " + std::string(type_name(t)) + " needs an importance matrix (--imatrix)");
  }

  quant::ImportanceMatrix imatrix;
  if (!opts.imatrix_path.empty()) imatrix = quant::load_imatrix(opts.imatrix_path);

  // The types llama.cpp's recipes and the heat map's pure plan give each tensor.
  const auto shape = Hparams::from_metadata(f.metadata());
  quant::PlanOptions plan_opts;
  plan_opts.has_imatrix = !opts.imatrix_path.empty();
  std::vector<std::vector<TensorType>> wanted(f.tensors().size(), a.types);
  for (auto name : kRecipes) {
    const quant::FileType* ft = quant::find_file_type(name);
    RecipePoint r{std::string(name), 0, 0, std::vector<TensorType>(f.tensors().size()), std::nullopt};
    std::vector<quant::PlannedTensor> planned;
    try {
      planned = quant::plan(shape, f.tensors(), *ft, plan_opts);
    } catch (const Error& e) {
      a.refused_recipes.push_back(std::string(name) + ": " + e.message());  // a row no type of it fits
      continue;
    }
    for (const auto& p : planned) {
      r.types[p.input_index] = p.to;
      if (p.quantize()) add_unique(wanted[p.input_index], p.to);
    }
    a.recipes.push_back(std::move(r));
  }
  const quant::FileType* pure = quant::file_type_for_tensor_type(opts.sensitivity_type);
  if (!pure || !type_info(opts.sensitivity_type).quantized)
    throw Error(ErrorKind::Usage, "no llama.cpp file type quantizes every tensor to " +
                                      std::string(type_name(opts.sensitivity_type)) + "; pick a block type such as Q3_K");
  quant::PlanOptions pure_opts = plan_opts;
  pure_opts.pure = true;
  std::vector<std::optional<TensorType>> sensitivity(f.tensors().size());
  std::vector<quant::PlannedTensor> pure_plan;
  try {
    pure_plan = quant::plan(shape, f.tensors(), *pure, pure_opts);
  } catch (const Error&) {
    // No heat map: some row fits no type of the plan.
  }
  for (const auto& p : pure_plan)
    if (p.quantize()) {
      sensitivity[p.input_index] = p.to;
      add_unique(wanted[p.input_index], p.to);
    }

  uint64_t total = 0;
  for (const auto& t : f.tensors()) total += t.nbytes();
  Progress progress("analyze", total);
  std::vector<float> buf;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& t = f.tensors()[i];
    if (opts.progress) progress.set_note(t.name);
    TensorAnalysis ta;
    ta.name = t.name;
    ta.family = tensor_family(t.name, &ta.layer);
    ta.shape = t.shape;
    ta.type = t.type;
    ta.params = t.n_elements();
    ta.bytes = t.nbytes();
    ta.rows = t.shape.empty() || t.shape[0] == 0 ? 0 : ta.params / t.shape[0];
    ta.readable = quant::can_dequantize(t.type) && ta.params > 0;
    ta.quantizable = quant::tensor_allows_quantization(t, a.arch);
    a.params += ta.params;
    a.bytes += ta.bytes;
    if (ta.readable) {
      const auto data = f.tensor_data(i);
      const auto w = as_floats(t, data, buf, threads);
      ta.stats = compute_stats(w, threads);
      ta.histogram = standardized_histogram(w, ta.stats, threads);
      measure_lossless(ta, data, w, opts, threads);
      // A NaN or an infinity has no meaningful error (and no quantizer expects one).
      if (ta.quantizable && ta.stats.nonfinite == 0) {
        ta.sensitivity_type = sensitivity[i];
        measure_errors(ta, t, w, wanted[i], imatrix, opts, threads);
        a.imatrix_matched += ta.imatrix;
      }
      if (mapped) release_mapped_pages(data);  // a .qkv's bytes live on the heap: keep them
    } else if (opts.codecs && ta.params > 0) {
      ta.codec_stored = codec_size(f.tensor_data(i), t.type, threads);
    }
    a.tensors.push_back(std::move(ta));
    if (opts.progress) progress.add(t.nbytes());
  }
  progress.finish();

  summarise_families(a);
  if (a.params == 0) a.recipes.clear();  // a vocabulary-only file: nothing to quantize
  build_options(a);
  const double p = static_cast<double>(std::max<uint64_t>(a.params, 1));
  for (auto& r : a.recipes) {
    for (size_t i = 0; i < a.tensors.size(); ++i) {
      const auto& t = a.tensors[i];
      const TensorType to = r.types[i];
      r.bytes += tensor_bytes(to, t.shape);
      if (to == t.type) continue;  // kept as it is
      if (const QuantError* e = t.error_for(to)) r.error += static_cast<double>(t.params) * e->rel_error / p;
    }
    r.frontier_point = a.frontier.at_most(r.bytes);
  }
  a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return a;
}

}  // namespace qkv::analysis
