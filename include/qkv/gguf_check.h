// Surgical alignment: audit a GGUF file's tensor layout, and repair what can
// be repaired without losing a byte of tensor data.
//
// The rule: each tensor's data is exactly (elements / block elements) x bytes
// per block, each row a whole number of blocks, each offset a multiple of
// general.alignment, zero padding in between, nothing overlapping, all of it
// inside the file. Surplus bytes past a tensor's last block are trimmable;
// a tensor shorter than its exact size is damage, never "fixed".
#pragma once

#include <string>
#include <vector>

#include "qkv/gguf.h"

namespace qkv::gguf {

struct Problem {
  enum class Kind {
    Misaligned,      // offset not a multiple of the alignment (repairable)
    Surplus,         // region holds more than exact size + padding (repairable)
    NonZeroPadding,  // padding past the last block is not zero (repairable)
    Short,           // region smaller than the exact size / overlaps the next tensor (fatal)
    OutOfFile,       // data runs past the end of the file (fatal)
  };
  Kind kind;
  std::string tensor;
  uint64_t offset;  // absolute file offset of the tensor's data
  std::string message;
  bool repairable() const { return kind == Kind::Misaligned || kind == Kind::Surplus || kind == Kind::NonZeroPadding; }
};

struct AuditReport {
  size_t tensors = 0;
  uint64_t tensor_bytes = 0;  // sum of exact sizes
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
  bool repairable() const;
};

AuditReport audit_layout(const File& f);

struct RepairResult {
  AuditReport before;
  size_t tensors_moved = 0;
  uint64_t bytes_trimmed = 0;  // surplus and padding dropped
  uint64_t old_size = 0, new_size = 0;
};

// Rewrites `f` to out_path with canonical layout (tensors in info order, each
// aligned, zero padding). Refuses (Integrity error, no output file) when any
// tensor is short or outside the file. Every tensor's bytes are compared with
// the input before the output is renamed into place.
RepairResult repair(const File& f, const std::string& out_path);

}  // namespace qkv::gguf
