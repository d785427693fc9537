// qkv decompress: a .qkv back to the exact original bytes (a file, or a
// folder for a compressed Hugging Face folder).
#include <chrono>
#include <cstdio>

#include "commands.h"
#include "qkv/qkv_file.h"

namespace qkv::cli {

Runner add_decompress(CLI::App& app) {
  auto* cmd = app.add_subcommand("decompress", "Restore the original file (or folder) from a .qkv, byte for byte");
  cmd->footer("Example:\n  qkv decompress model.qkv -o model.gguf\n  qkv decompress hf.qkv -o ./hf-model");
  struct Args {
    std::string in, out;
    qkvfile::DecompressOptions opts;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("IN", a->in, ".qkv file")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", a->out, "Output file (a folder for a compressed Hugging Face folder)")->required();
  cmd->add_option("-t,--threads", a->opts.threads, "Threads (default: all cores)");
  return [a] {
    const auto t0 = std::chrono::steady_clock::now();
    qkvfile::decompress(a->in, a->out, a->opts);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s -> %s: %.2f s, checksums verified\n", a->in.c_str(), a->out.c_str(), s);
    return 0;
  };
}

}  // namespace qkv::cli
