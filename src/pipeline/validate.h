// The pipeline's last stage before an output is published: the written file
// read back and audited (qkv/gguf_check.h), so a layout defect never reaches
// the output's name.
#pragma once

#include <string>
#include <vector>

#include "qkv/gguf.h"

namespace qkv::pipeline {

// Throws (Integrity) naming `out` and the tensor when the file at temp_path
// fails the alignment audit or does not hold exactly `expected` (names,
// types, shapes, in order).
void validate_output(const std::string& temp_path, const std::string& out, const std::vector<gguf::TensorInfo>& expected);

}  // namespace qkv::pipeline
