// qkv compress: a GGUF, a safetensors file or a Hugging Face folder into a
// lossless .qkv container (docs/qkv-format.md).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "qkv/qkv_file.h"

namespace qkv::cli {
namespace {

namespace fs = std::filesystem;

struct Args {
  std::string in, out;
  qkvfile::CompressOptions opts;
  uint64_t chunk_kib = qkvfile::kDefaultChunkSize / 1024;
};

uint64_t input_bytes(const std::string& in) {
  if (!fs::is_directory(in)) return fs::file_size(in);
  uint64_t n = 0;
  for (const auto& de : fs::recursive_directory_iterator(in))
    if (de.is_regular_file()) n += de.file_size();
  return n;
}

int run(Args a) {
  a.opts.chunk_size = a.chunk_kib * 1024;
  const auto t0 = std::chrono::steady_clock::now();
  qkvfile::compress(a.in, a.out, a.opts);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t in = input_bytes(a.in), out = fs::file_size(a.out);
  std::printf("%s -> %s: %.2f MB -> %.2f MB (%.2f%%), %.2f s, %.1f MB/s\n", a.in.c_str(), a.out.c_str(), in / 1e6,
              out / 1e6, in ? 100.0 * out / in : 0.0, s, s > 0 ? in / 1e6 / s : 0.0);
  return 0;
}

}  // namespace

Runner add_compress(CLI::App& app) {
  auto* cmd = app.add_subcommand("compress", "Compress a model losslessly into a .qkv container");
  cmd->footer("Example:\n  qkv compress model.gguf -o model.qkv\n  qkv compress ./hf-model -o model.qkv");
  auto a = std::make_shared<Args>();
  cmd->add_option("IN", a->in, "GGUF file, safetensors file or Hugging Face folder")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("-o,--output", a->out, "Output .qkv, written atomically")->required();
  cmd->add_option("-t,--threads", a->opts.threads, "Threads (default: all cores)");
  cmd->add_option("--chunk-kib", a->chunk_kib, "Chunk size in KiB (default 4096)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--zstd-level", a->opts.codec.zstd_level, "zstd level tried on streams, 0 = never (default 3)")
      ->check(CLI::Range(0, 22));
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
