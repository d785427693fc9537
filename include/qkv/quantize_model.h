// Quantizing a whole GGUF model, tensor by tensor, as llama-quantize does:
// same tensor order, per-tensor types, metadata and bytes.
#pragma once

#include <string>
#include <vector>

#include "qkv/budget_plan.h"
#include "qkv/recipe.h"

namespace qkv::quant {

struct QuantizeOptions {
  std::string type = "Q4_K_M";  // a llama.cpp file type (Q4_K_M ...) or a tensor type (Q4_K ...)
  int threads = 0;              // <= 0: all cores
  PlanOptions plan;             // overrides, --pure ...
  std::string imatrix_path;     // llama.cpp imatrix (GGUF or legacy .dat); empty: none
  bool allow_requantize = false;
  bool dry_run = false;         // plan and sizes only, no output file
  bool progress = true;
  // When active, the adaptive planner (qkv/budget_plan.h) picks each tensor's
  // type for this budget, and `type` is not used.
  BudgetTarget budget;
  int64_t sample_rows = 256;    // rows per tensor the planner measures
  SensitivityFn sensitivity;    // calibrates the planner's errors to KLD (qkv/sensitivity.h), or empty
};

struct TensorReport {
  std::string name;
  std::vector<uint64_t> shape;
  TensorType from, to;
  uint64_t bytes_in, bytes_out;
  bool fallback, used_imatrix;
  double predicted_error = 0;  // the planner's, for a budgeted plan
  uint64_t pruned = 0;         // weights a prune transform zeroed
};

struct QuantizeReport {
  std::string file_type;
  std::vector<TensorReport> tensors;
  uint64_t bytes_in = 0, bytes_out = 0, elements = 0, file_bytes = 0;
  double seconds = 0;
  bool budgeted = false, budget_capped = false;  // planned for a budget; the largest plan fitted under it
  uint64_t tensor_budget = 0;
  double predicted_error = 0;  // the plan's total
  uint64_t pruned = 0;         // weights zeroed, all tensors
  uint64_t prunable = 0;       // weights of the tensors a prune transform read
  double bits_per_weight() const { return elements ? 8.0 * bytes_out / elements : 0; }
};

// The input's metadata with general.file_type / general.quantization_version
// set as llama-quantize sets them (moved to the end) and split keys removed.
gguf::Metadata output_metadata(const gguf::Metadata& in, const FileType& ft);

// Reads `in` (any model qkv/pipeline.h reads), writes `out` atomically
// (unless dry_run) through the pipeline. Every tensor is checked against its
// type and shape before it is written, and the file's layout before it is published.
QuantizeReport quantize_model(const std::string& in, const std::string& out, const QuantizeOptions& opts);

}  // namespace qkv::quant
