// qkv check: the surgical-alignment audit of a GGUF file.
#include <cstdio>

#include "commands.h"
#include "qkv/error.h"
#include "qkv/gguf_check.h"

namespace qkv::cli {
namespace {

int run(const std::string& path) {
  gguf::File f = [&] {
    try {
      return gguf::File::open(path, {.strict_layout = false});
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::IO) throw;
      std::printf("FAIL %s\n  %s\n", path.c_str(), e.what());
      std::exit(1);
    }
  }();
  const auto r = gguf::audit_layout(f);
  for (const auto& p : r.problems)
    std::printf("  %s tensor '%s' at offset %llu: %s\n", p.repairable() ? "repairable:" : "damaged:   ",
                p.tensor.c_str(), static_cast<unsigned long long>(p.offset), p.message.c_str());
  if (r.ok()) {
    std::printf("PASS %s: %zu tensors, %llu bytes of tensor data, every tensor exact, aligned to %llu, "
                "zero-padded, inside the file\n",
                path.c_str(), r.tensors, static_cast<unsigned long long>(r.tensor_bytes),
                static_cast<unsigned long long>(f.alignment()));
    return 0;
  }
  std::printf("FAIL %s: %zu problem(s) in %zu tensors; %s\n", path.c_str(), r.problems.size(), r.tensors,
              r.repairable() ? "all repairable with 'qkv repair'" : "the file is damaged and cannot be repaired");
  return 1;
}

}  // namespace

Runner add_check(CLI::App& app) {
  auto* cmd = app.add_subcommand("check", "Audit a GGUF file's tensor layout (exit status 0 = pass)");
  cmd->footer("Checks, for every tensor: its exact size for its type and shape, offset alignment,\n"
              "zero padding, no overlap, data inside the file. One line per problem, then a summary.\n\n"
              "Example:\n  qkv check model.gguf && echo ok");
  auto path = std::make_shared<std::string>();
  cmd->add_option("FILE", *path, "GGUF file")->required()->check(CLI::ExistingFile);
  return [=] { return run(*path); };
}

}  // namespace qkv::cli
