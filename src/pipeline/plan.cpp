#include "pipeline/plan.h"

#include <map>
#include <regex>

#include "qkv/progress.h"

namespace qkv::pipeline {

OutputPlan plan_output(const Source& in, const quant::QuantizeOptions& o, const quant::ImportanceMatrix& imatrix,
                       const quant::TensorReader& read) {
  OutputPlan r;
  quant::PlanOptions plan_opts = o.plan;
  r.budgeted = o.budget.active();
  // A budgeted plan starts from the tensors a Q8_0 recipe would quantize, in its order.
  if (r.budgeted) plan_opts.pure = true;
  r.file_type = &quant::resolve_type_name(r.budgeted ? "Q8_0" : o.type, plan_opts);
  plan_opts.has_imatrix = !imatrix.weights.empty();
  r.tensors = quant::plan(Hparams::from_metadata(in.metadata()), in.tensors(), *r.file_type, plan_opts);
  if (!r.budgeted) return r;

  std::vector<gguf::TensorInfo> infos;
  for (const auto& p : r.tensors) infos.push_back(in.tensors()[p.input_index]);
  const uint64_t header = gguf::align_up(
      gguf::serialize_header(quant::output_metadata(in.metadata(), *r.file_type), infos).size(),
      gguf::alignment_of(in.metadata()));
  uint64_t total = 0;
  for (const auto& t : in.tensors()) total += t.nbytes();
  // Tensors whose type the user gave keep it; the planner spends the rest of the budget.
  std::vector<bool> keep(r.tensors.size(), false);
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const std::string& name = in.tensors()[r.tensors[i].input_index].name;
    keep[i] = (plan_opts.token_embedding_type && name == "token_embd.weight") ||
              (plan_opts.output_tensor_type && name == "output.weight");
    for (const auto& [re, type] : plan_opts.tensor_type_overrides) keep[i] = keep[i] || std::regex_search(name, std::regex(re));
  }
  Progress measuring("measure", total);
  r.budget = quant::plan_for_budget(
      in.metadata(), in.tensors(), read, r.tensors, keep, header, o.budget,
      {imatrix.weights.empty() ? nullptr : &imatrix, o.sample_rows, o.threads, o.sensitivity},
      [&](uint64_t b) { if (o.progress) measuring.add(b); });
  measuring.finish();
  // general.file_type: the file type named after the type most weights got.
  std::map<TensorType, uint64_t> weights;
  for (const auto& p : r.tensors)
    if (p.quantize()) weights[p.to] += in.tensors()[p.input_index].n_elements();
  TensorType most = TensorType::Q8_0;
  for (const auto& [t, n] : weights)
    if (n > weights[most]) most = t;
  if (const quant::FileType* f = quant::file_type_for_tensor_type(most)) r.file_type = f;
  return r;
}

}  // namespace qkv::pipeline
