// Typed errors. The library throws qkv::Error; the CLI prints what() as one
// line and exits non-zero. Context (file, tensor, offset) is carried in fields
// and folded into the message, so a user always learns where and what to do.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace qkv {

enum class ErrorKind {
  Format,       // the bytes are not a valid file of the claimed format
  Unsupported,  // valid, but uses something QKV Core does not handle (yet)
  Integrity,    // checksums, sizes or layout disagree with what the data must be
  IO,           // the operating system refused (open, read, write, rename, disk full)
  Usage,        // the user asked for something impossible (bad flag, bad type name)
};

std::string_view error_kind_name(ErrorKind k);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message) : Error(kind, std::move(message), {}, {}, {}) {}
  Error(ErrorKind kind, std::string message, std::string file, std::string tensor = {},
        std::optional<uint64_t> offset = {});

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }  // without context
  const std::string& file() const { return file_; }
  const std::string& tensor() const { return tensor_; }
  std::optional<uint64_t> offset() const { return offset_; }

  // A copy with file context added (keeps existing context).
  Error with_file(const std::string& file) const;

 private:
  ErrorKind kind_;
  std::string message_, file_, tensor_;
  std::optional<uint64_t> offset_;
};

// errno-based I/O error: "<what> '<path>': <strerror>".
[[noreturn]] void throw_io(const std::string& what, const std::string& path, int err);

}  // namespace qkv
