// The pipeline's driver (qkv/pipeline.h): plan, then per tensor in output
// order read slabs of rows, prune, quantize and write; audit; publish.
#include <chrono>

#include "pipeline/plan.h"
#include "pipeline/validate.h"
#include "qkv/error.h"
#include "qkv/pipeline.h"
#include "qkv/progress.h"
#include "qkv/quant.h"

namespace qkv::pipeline {
namespace {

// Float32 values read at a time (16 MiB): the largest tensors never exist in
// float32 whole unless a transform needs them so.
constexpr uint64_t kSlabFloats = uint64_t{4} << 20;

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// What the transforms need, shared by the planner's reads and the writing loop.
struct Transforms {
  const Source& in;
  const std::optional<PruneOptions>& prune;
  const quant::ImportanceMatrix& imatrix;
  int threads;

  bool prunes(size_t i) const {
    const auto& t = in.tensors()[i];
    return prune && is_prunable(t.name, t.shape, *prune);
  }
  // Rows [row, row + n) of tensor i, inside its matrix `m` (3-D expert
  // tensors: one matrix per expert), transformed. Returns the weights zeroed.
  uint64_t read(size_t i, int64_t m, uint64_t row, uint64_t n, float* out) const {
    in.read_rows(i, row, n, out, threads);
    if (!prunes(i)) return 0;
    const auto& t = in.tensors()[i];
    const uint64_t cols = t.shape[0];
    const std::vector<float>* act = prune->imatrix ? prune->imatrix->find(t.name) : nullptr;
    if (act && act->size() % cols != 0)
      throw Error(ErrorKind::Usage, "the importance matrix has " + std::to_string(act->size()) + " weights for " +
                                        std::to_string(cols) + " columns", {}, t.name);
    if (prune->method == PruneMethod::Wanda && !act)
      throw Error(ErrorKind::Usage, "the importance matrix has no entry for this tensor, which wanda needs", {}, t.name);
    return prune_rows(*prune, out, int64_t(n), int64_t(cols), act ? act->data() + m * cols : nullptr);
  }
  uint64_t matrices(size_t i) const {
    const auto& t = in.tensors()[i];
    return t.shape.size() > 2 ? t.shape[2] : 1;
  }
  void read_whole(size_t i, std::vector<float>& out) const {
    const auto& t = in.tensors()[i];
    out.resize(t.n_elements());
    const uint64_t rows = t.n_elements() / t.shape[0] / matrices(i);
    for (uint64_t m = 0; m < matrices(i); ++m)
      read(i, int64_t(m), m * rows, rows, out.data() + m * rows * t.shape[0]);
  }
};

void check_planned(const Source& in, const quant::PlannedTensor& p, bool transformed, const quant::QuantizeOptions& o) {
  const auto& t = in.tensors()[p.input_index];
  if (p.quantize() && !quant::can_quantize(p.to))
    throw Error(ErrorKind::Unsupported, "cannot quantize to " + std::string(type_name(p.to)) + " yet", in.path(), t.name);
  if ((p.quantize() || transformed) && !is_float_type(t.type) && !o.allow_requantize)
    throw Error(ErrorKind::Usage, "is already quantized (" + std::string(type_name(t.type)) +
                                      "); requantizing loses quality -- pass --allow-requantize to do it anyway",
                in.path(), t.name);
  if ((p.quantize() || transformed) && !quant::can_dequantize(t.type))
    throw Error(ErrorKind::Unsupported, "cannot read " + std::string(type_name(t.type)) + " yet", in.path(), t.name);
}

}  // namespace

quant::QuantizeReport run(const Source& in, const std::string& out, const Job& job) {
  const auto start = std::chrono::steady_clock::now();
  const quant::QuantizeOptions& o = job.quantize;
  quant::ImportanceMatrix imatrix;
  if (!o.imatrix_path.empty()) imatrix = quant::load_imatrix(o.imatrix_path);
  std::optional<PruneOptions> prune = job.prune;
  if (prune && !prune->imatrix && !imatrix.weights.empty()) prune->imatrix = &imatrix;
  if (prune && prune->method == PruneMethod::Wanda && !prune->imatrix)
    throw Error(ErrorKind::Usage, "wanda scores weights by their input activations: pass --imatrix FILE (qkv imatrix makes one)");
  const Transforms tf{in, prune, imatrix, o.threads};

  const OutputPlan plan = plan_output(in, o, imatrix, [&](size_t i, std::vector<float>& f) { tf.read_whole(i, f); });
  quant::QuantizeReport report;
  report.budgeted = plan.budgeted;
  report.budget_capped = plan.budget.capped;
  report.tensor_budget = plan.budget.tensor_budget;
  report.predicted_error = plan.budget.total_error;
  report.file_type = plan.budgeted ? "adaptive (" + std::string(plan.file_type->name) + ")" : std::string(plan.file_type->name);

  std::vector<gguf::TensorInfo> out_infos;
  for (size_t k = 0; k < plan.tensors.size(); ++k) {
    const auto& p = plan.tensors[k];
    const auto& t = in.tensors()[p.input_index];
    check_planned(in, p, tf.prunes(p.input_index), o);
    gguf::TensorInfo info = t;
    info.type = p.to;
    out_infos.push_back(info);
    const bool imat = p.quantize() && imatrix.find(t.name) && quant::uses_imatrix(p.to);
    report.tensors.push_back({t.name, t.shape, t.type, p.to, t.nbytes(), info.nbytes(), p.fallback, imat,
                              plan.budgeted ? plan.budget.errors[k] : 0.0});
    report.bytes_in += t.nbytes();
    report.bytes_out += info.nbytes();
    report.elements += t.n_elements();
    if (tf.prunes(p.input_index)) report.prunable += t.n_elements();
  }
  gguf::Metadata md = quant::output_metadata(in.metadata(), *plan.file_type);
  if (prune) {
    md.set("qkv.prune.method", gguf::Value::string(prune->method == PruneMethod::Magnitude ? "magnitude"
                                                : prune->method == PruneMethod::Wanda
                                                    ? "wanda"
                                                    : std::to_string(prune->keep_n) + ":" + std::to_string(prune->group_m)));
    md.set("qkv.prune.sparsity", gguf::Value::f32(float(prune_fraction(*prune))));
  }
  const uint64_t align = gguf::alignment_of(md);
  report.file_bytes = gguf::align_up(gguf::serialize_header(md, out_infos).size(), align);
  for (const auto& info : out_infos) report.file_bytes += gguf::align_up(info.nbytes(), align);
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  if (o.dry_run) {
    report.seconds = elapsed();
    return report;
  }

  gguf::Writer writer(out, md, out_infos);
  Progress progress(job.verb + " " + report.file_type, report.bytes_in);
  std::vector<float> slab;
  std::vector<uint8_t> buffer;
  for (size_t k = 0; k < plan.tensors.size(); ++k) {
    const auto& p = plan.tensors[k];
    const size_t i = p.input_index;
    const auto& t = in.tensors()[i];
    if (o.progress) progress.set_note(t.name);
    const auto raw = in.bytes(i);
    if (!p.quantize() && !tf.prunes(i) && !raw.empty()) {
      writer.write_tensor(raw);
    } else {
      const uint64_t cols = t.shape[0], n_mat = tf.matrices(i);
      const uint64_t rows_per_mat = t.n_elements() / cols / n_mat;
      // 3-D expert tensors carry one importance vector per expert.
      const std::vector<float>* w = quant::uses_imatrix(p.to) ? imatrix.find(t.name) : nullptr;
      if (w && w->size() != cols * n_mat)
        throw Error(ErrorKind::Usage, "the importance matrix has " + std::to_string(w->size()) + " weights, the tensor needs " +
                                          std::to_string(cols * n_mat), o.imatrix_path, t.name);
      const uint64_t slab_rows =
          in.reads_whole(i) ? rows_per_mat : std::clamp<uint64_t>(kSlabFloats / cols, 1, rows_per_mat);
      writer.begin_tensor();
      for (uint64_t m = 0; m < n_mat; ++m)
        for (uint64_t r = 0; r < rows_per_mat; r += slab_rows) {
          const uint64_t n = std::min(slab_rows, rows_per_mat - r);
          slab.resize(n * cols);
          const uint64_t zeroed = tf.read(i, int64_t(m), m * rows_per_mat + r, n, slab.data());
          report.tensors[k].pruned += zeroed;
          report.pruned += zeroed;
          buffer.resize(n * row_bytes(p.to, cols));
          quant::quantize(p.to, slab.data(), buffer.data(), int64_t(n), int64_t(cols), w ? w->data() + m * cols : nullptr,
                          o.threads);
          writer.append(buffer);
        }
      writer.end_tensor();  // checks the exact size for type and shape
    }
    in.release(i);  // streaming: RSS stays at a few tensors
    if (o.progress) progress.add(t.nbytes());
  }
  writer.finish([&](const std::string& temp) { validate_output(temp, out, out_infos); });
  progress.finish();
  report.seconds = elapsed();
  return report;
}

}  // namespace qkv::pipeline
