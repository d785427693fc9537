#include "pipeline/validate.h"

#include "qkv/error.h"
#include "qkv/gguf_check.h"

namespace qkv::pipeline {

void validate_output(const std::string& temp_path, const std::string& out, const std::vector<gguf::TensorInfo>& expected) {
  const gguf::File f = gguf::File::open(temp_path);
  const auto fail = [&](const std::string& what, const std::string& tensor, std::optional<uint64_t> offset) {
    throw Error(ErrorKind::Integrity, "the written file " + what + "; nothing was published (please report this)", out,
                tensor, offset);
  };
  if (f.tensors().size() != expected.size())
    fail("holds " + std::to_string(f.tensors().size()) + " tensors, not " + std::to_string(expected.size()), {}, {});
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& e = expected[i];
    if (a.name != e.name || a.type != e.type || a.shape != e.shape)
      fail("differs from the plan at tensor " + std::to_string(i) + " (" + e.name + ")", a.name, {});
  }
  const gguf::AuditReport audit = gguf::audit_layout(f);
  if (!audit.ok()) {
    const auto& p = audit.problems.front();
    fail("fails the alignment audit: " + p.message, p.tensor, p.offset);
  }
}

}  // namespace qkv::pipeline
