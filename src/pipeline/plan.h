// The pipeline's planning stage: each input tensor's output type, from
// llama.cpp's recipe for a file type, or from the adaptive planner for a
// size budget, with the user's fixed overrides kept either way.
#pragma once

#include <vector>

#include "qkv/budget_plan.h"
#include "qkv/pipeline.h"

namespace qkv::pipeline {

struct OutputPlan {
  const quant::FileType* file_type = nullptr;  // general.file_type's
  std::vector<quant::PlannedTensor> tensors;   // in output order
  bool budgeted = false;
  quant::BudgetPlan budget;                    // when budgeted
};

// `read` gives a tensor's floats as they will be quantized (the budget
// planner measures them); `imatrix` may be empty.
OutputPlan plan_output(const Source& in, const quant::QuantizeOptions& o, const quant::ImportanceMatrix& imatrix,
                       const quant::TensorReader& read);

}  // namespace qkv::pipeline
