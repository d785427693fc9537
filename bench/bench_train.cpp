// Training speed: tokens/s of full optimizer steps (forward, backward,
// gradient clipping, AdamW) on a ~10M-parameter llama, against the same
// model and step in PyTorch (float32, the same thread count), run from here.
//
//   build/bench/bench_train [threads=all] [steps=5]
//
// PyTorch comes from $QKV_PYTHON, python3 or /usr/bin/python3, whichever
// imports torch; without it only our number is printed.
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "qkv/parallel.h"
#include "qkv/train.h"

using namespace qkv;

namespace {

constexpr int kBatch = 4;

train::Shape bench_shape() {
  train::Shape s;
  s.vocab = 259, s.dim = 384, s.layers = 6, s.heads = 6, s.kv_heads = 6, s.ffn = 1024, s.ctx = 256;
  return s;
}

std::string run_command(const std::string& cmd, int* status) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  *status = pclose(p);
  return out;
}

std::string torch_python() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("QKV_PYTHON"); env && *env) candidates.push_back(env);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  for (const auto& py : candidates) {
    int status = 0;
    run_command(py + " -c 'import torch, numpy' 2>/dev/null", &status);
    if (status == 0) return py;
  }
  return {};
}

double ours(int threads, int steps) {
  const train::Shape s = bench_shape();
  train::Transformer model(s, threads);
  model.init(1);
  train::AdamW opt({}, model.params().size());
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> id(0, s.vocab - 1);
  train::Batch b{kBatch, s.ctx, std::vector<int32_t>(size_t(kBatch) * s.ctx), std::vector<int32_t>(size_t(kBatch) * s.ctx)};
  for (auto& x : b.tokens) x = id(rng);
  for (auto& x : b.targets) x = id(rng);
  train::train_step(model, opt, std::span(&b, 1), 1e-4f, 1.0f);  // warm-up: allocations, thread start
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) train::train_step(model, opt, std::span(&b, 1), 1e-4f, 1.0f);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return double(steps) * kBatch * s.ctx / seconds;
}

// tokens/s of torch_llama.py bench, or 0 when PyTorch is not available.
double torch(int threads, int steps) {
  const std::string py = torch_python();
  if (py.empty()) return 0;
  const train::Shape s = bench_shape();
  char args[256];
  std::snprintf(args, sizeof args,
                " bench --vocab %d --dim %d --layers %d --heads %d --kv-heads %d --ffn %d --ctx %d --batch %d "
                "--steps %d --threads %d",
                s.vocab, s.dim, s.layers, s.heads, s.kv_heads, s.ffn, s.ctx, kBatch, steps, threads);
  int status = 0;
  const std::string out =
      run_command(py + " '" + QKV_SOURCE_DIR + "/tests/train/torch_llama.py'" + args + " 2>&1", &status);
  const size_t at = out.find("\"tokens_per_s\": ");
  if (status != 0 || at == std::string::npos) {
    std::fprintf(stderr, "torch_llama.py failed:\n%s\n", out.c_str());
    return 0;
  }
  return std::atof(out.c_str() + at + 16);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : hardware_threads();
  const int steps = argc > 2 ? std::atoi(argv[2]) : 5;
  const train::Shape s = bench_shape();
  std::printf("model: %.2fM parameters (dim %d, %d layers, ffn %d, vocab %d), batch %d x %d tokens, %d threads\n",
              double(s.n_params()) / 1e6, s.dim, s.layers, s.ffn, s.vocab, kBatch, s.ctx, threads);
  const double q = ours(threads, steps);
  std::printf("qkv train:      %8.0f tokens/s\n", q);
  const double t = torch(threads, steps);
  if (t > 0)
    std::printf("PyTorch fp32:   %8.0f tokens/s\nratio qkv/torch: %.2f\n", t, q / t);
  else
    std::printf("PyTorch: not available (no python3 here imports torch)\n");
  return 0;
}
