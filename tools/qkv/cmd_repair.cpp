// qkv repair: rewrite a GGUF file with canonical layout, losing no tensor data.
#include <cstdio>

#include "commands.h"
#include "qkv/gguf_check.h"

namespace qkv::cli {
namespace {

int run(const std::string& in, const std::string& out) {
  const auto f = gguf::File::open(in, {.strict_layout = false});
  const auto r = gguf::repair(f, out);
  for (const auto& p : r.before.problems)
    std::printf("  fixed: tensor '%s': %s\n", p.tensor.c_str(), p.message.c_str());
  std::printf("%s -> %s: %zu problem(s) fixed, %zu tensors moved, %llu -> %llu bytes; every tensor's bytes verified "
              "identical\n",
              in.c_str(), out.c_str(), r.before.problems.size(), r.tensors_moved,
              static_cast<unsigned long long>(r.old_size), static_cast<unsigned long long>(r.new_size));
  return 0;
}

}  // namespace

Runner add_repair(CLI::App& app) {
  auto* cmd = app.add_subcommand("repair", "Rewrite a GGUF file whose tensors are misaligned or carry surplus bytes");
  cmd->footer("Only bytes past a tensor's last block are dropped; a tensor shorter than its exact size\n"
              "is refused and nothing is written. The output is verified before it is renamed into place.\n\n"
              "Example:\n  qkv repair broken.gguf -o fixed.gguf && qkv check fixed.gguf");
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("IN", *in, "GGUF file to repair")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", *out, "Where to write the repaired file")->required();
  return [=] { return run(*in, *out); };
}

}  // namespace qkv::cli
