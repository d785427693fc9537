#include "qkv/quantize_model.h"

#include <chrono>
#include <cstring>
#include <map>
#include <regex>

#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/gguf.h"
#include "qkv/imatrix.h"
#include "qkv/progress.h"
#include "qkv/quant.h"

namespace qkv::quant {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

}  // namespace

gguf::Metadata output_metadata(const gguf::Metadata& in, const FileType& ft) {
  gguf::Metadata md = in;
  // llama-quantize sets these with gguf_set_val, which moves a key to the end.
  md.erase("general.quantization_version");
  md.set("general.quantization_version", gguf::Value::u32(kQuantizationVersion));
  md.erase("general.file_type");
  md.set("general.file_type", gguf::Value::u32(ft.ftype));
  for (auto key : {"split.no", "split.count", "split.tensors.count"}) md.erase(key);
  return md;
}

QuantizeReport quantize_model(const std::string& in, const std::string& out, const QuantizeOptions& opts) {
  const auto start = std::chrono::steady_clock::now();
  const auto src = gguf::File::open(in);
  PlanOptions plan_opts = opts.plan;
  const bool budgeted = opts.budget.active();
  // A budgeted plan starts from the tensors a Q8_0 recipe would quantize, in its order.
  if (budgeted) plan_opts.pure = true;
  const FileType* ft = &resolve_type_name(budgeted ? "Q8_0" : opts.type, plan_opts);

  ImportanceMatrix imatrix;
  if (!opts.imatrix_path.empty()) {
    imatrix = load_imatrix(opts.imatrix_path);
    plan_opts.has_imatrix = true;
  }
  const ModelShape shape = ModelShape::from_metadata(src.metadata());
  auto planned = plan(shape, src.tensors(), *ft, plan_opts);

  QuantizeReport report;
  BudgetPlan budget;
  if (budgeted) {
    std::vector<gguf::TensorInfo> infos;
    for (const auto& p : planned) infos.push_back(src.tensors()[p.input_index]);
    const uint64_t header =
        gguf::align_up(gguf::serialize_header(output_metadata(src.metadata(), *ft), infos).size(), gguf::alignment_of(src.metadata()));
    uint64_t total = 0;
    for (const auto& t : src.tensors()) total += t.nbytes();
    // Tensors whose type the user gave keep it; the planner spends the rest of the budget.
    std::vector<bool> keep(planned.size(), false);
    for (size_t i = 0; i < planned.size(); ++i) {
      const std::string& name = src.tensors()[planned[i].input_index].name;
      keep[i] = (plan_opts.token_embedding_type && name == "token_embd.weight") ||
                (plan_opts.output_tensor_type && name == "output.weight");
      for (const auto& [re, type] : plan_opts.tensor_type_overrides) keep[i] = keep[i] || std::regex_search(name, std::regex(re));
    }
    Progress measuring("measure", total);
    budget = plan_for_budget(src, planned, keep, header, opts.budget,
                             {imatrix.weights.empty() ? nullptr : &imatrix, opts.sample_rows, opts.threads, opts.sensitivity},
                             [&](uint64_t b) { if (opts.progress) measuring.add(b); });
    measuring.finish();
    // general.file_type: the file type named after the type most weights got.
    std::map<TensorType, uint64_t> weights;
    for (const auto& p : planned)
      if (p.quantize()) weights[p.to] += src.tensors()[p.input_index].n_elements();
    TensorType most = TensorType::Q8_0;
    for (const auto& [t, n] : weights)
      if (n > weights[most]) most = t;
    if (const FileType* f = file_type_for_tensor_type(most)) ft = f;
    report.budgeted = true;
    report.budget_capped = budget.capped;
    report.tensor_budget = budget.tensor_budget;
    report.predicted_error = budget.total_error;
  }
  report.file_type = budgeted ? "adaptive (" + std::string(ft->name) + ")" : std::string(ft->name);
  std::vector<gguf::TensorInfo> out_infos;
  for (const auto& p : planned) {
    const auto& t = src.tensors()[p.input_index];
    if (p.quantize()) {
      if (!can_quantize(p.to))
        throw Error(ErrorKind::Unsupported, "cannot quantize to " + std::string(type_name(p.to)) + " yet", in, t.name);
      if (!is_float_type(t.type) && !opts.allow_requantize)
        throw Error(ErrorKind::Usage, "is already quantized (" + std::string(type_name(t.type)) +
                                          "); requantizing loses quality -- pass --allow-requantize to do it anyway",
                    in, t.name);
      if (!can_dequantize(t.type))
        throw Error(ErrorKind::Unsupported, "cannot read " + std::string(type_name(t.type)) + " yet", in, t.name);
    }
    gguf::TensorInfo o = t;
    o.type = p.to;
    out_infos.push_back(o);
    const bool imat = p.quantize() && imatrix.find(t.name) && uses_imatrix(p.to);
    report.tensors.push_back({t.name, t.shape, t.type, p.to, t.nbytes(), o.nbytes(), p.fallback, imat,
                              budgeted ? budget.errors[size_t(&p - planned.data())] : 0.0});
    report.bytes_in += t.nbytes();
    report.bytes_out += o.nbytes();
    report.elements += t.n_elements();
  }
  const auto md = output_metadata(src.metadata(), *ft);
  const uint64_t align = gguf::alignment_of(md);
  report.file_bytes = gguf::align_up(gguf::serialize_header(md, out_infos).size(), align);
  for (const auto& o : out_infos) report.file_bytes += gguf::align_up(o.nbytes(), align);
  if (opts.dry_run) {
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  }

  gguf::Writer writer(out, md, out_infos);
  Progress progress("quantize " + report.file_type, report.bytes_in);
  std::vector<float> floats;
  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < planned.size(); ++i) {
    const auto& p = planned[i];
    const auto& t = src.tensors()[p.input_index];
    const auto data = src.tensor_data(p.input_index);
    if (opts.progress) progress.set_note(t.name);
    if (!p.quantize()) {
      writer.write_tensor(data);
    } else {
      const int64_t n_per_row = static_cast<int64_t>(t.shape[0]);
      const int64_t n = static_cast<int64_t>(t.n_elements());
      const int64_t rows = n / n_per_row;
      const float* f32;
      if (t.type == TensorType::F32) {
        f32 = reinterpret_cast<const float*>(data.data());
      } else {
        floats.resize(static_cast<size_t>(n));
        dequantize(t.type, data.data(), floats.data(), rows, n_per_row, opts.threads);
        f32 = floats.data();
      }
      // 3-D expert tensors carry one importance vector per expert.
      const std::vector<float>* w = uses_imatrix(p.to) ? imatrix.find(t.name) : nullptr;
      const int64_t n_mat = t.shape.size() > 2 ? static_cast<int64_t>(t.shape[2]) : 1;
      if (w && w->size() != static_cast<size_t>(n_per_row * n_mat))
        throw Error(ErrorKind::Usage, "the importance matrix has " + std::to_string(w->size()) + " weights, the tensor needs " +
                                          std::to_string(n_per_row * n_mat), opts.imatrix_path, t.name);
      buffer.resize(out_infos[i].nbytes());
      const int64_t rows_per_mat = rows / n_mat;
      const uint64_t mat_bytes = buffer.size() / static_cast<uint64_t>(n_mat);
      for (int64_t m = 0; m < n_mat; ++m)
        quantize(p.to, f32 + m * rows_per_mat * n_per_row, buffer.data() + m * mat_bytes, rows_per_mat, n_per_row,
                 w ? w->data() + m * n_per_row : nullptr, opts.threads);
      writer.write_tensor(buffer);  // checks the exact size for type and shape
    }
    release_mapped_pages(data);  // streaming: RSS stays at a few tensors
    if (opts.progress) progress.add(t.nbytes());
  }
  writer.finish();
  progress.finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace qkv::quant
