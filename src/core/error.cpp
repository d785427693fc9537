#include "qkv/error.h"

#include <cstring>

namespace qkv {
namespace {

std::string compose(ErrorKind kind, const std::string& msg, const std::string& file, const std::string& tensor,
                    std::optional<uint64_t> offset) {
  // Built with append() only: GCC 12 warns falsely (-Wrestrict) on chained operator+.
  std::string s;
  if (!file.empty()) s.append(file).append(": ");
  if (!tensor.empty()) s.append("tensor '").append(tensor).append("': ");
  if (offset) s.append("at offset ").append(std::to_string(*offset)).append(": ");
  s.append(error_kind_name(kind)).append(" error: ").append(msg);
  return s;
}

}  // namespace

std::string_view error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::Format: return "format";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::Integrity: return "integrity";
    case ErrorKind::IO: return "I/O";
    case ErrorKind::Usage: return "usage";
  }
  return "unknown";
}

Error::Error(ErrorKind kind, std::string message, std::string file, std::string tensor,
             std::optional<uint64_t> offset)
    : std::runtime_error(compose(kind, message, file, tensor, offset)),
      kind_(kind),
      message_(std::move(message)),
      file_(std::move(file)),
      tensor_(std::move(tensor)),
      offset_(offset) {}

Error Error::with_file(const std::string& file) const {
  if (!file_.empty()) return *this;
  return Error(kind_, message_, file, tensor_, offset_);
}

void throw_io(const std::string& what, const std::string& path, int err) {
  throw Error(ErrorKind::IO, what + ": " + std::strerror(err), path);
}

}  // namespace qkv
