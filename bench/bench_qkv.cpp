// The .qkv container on whole files, side by side with zstd -3 and -19 of the
// same files (libzstd, this process): size ratio (compressed / original) and
// compress / decompress MB/s per thread (of original bytes, one thread each).
// qkv's numbers are the real paths: qkvfile::compress writing a .qkv, and
// Reader::open + restore (what Model::load does) decoding it into memory.
//
//   build/bench/bench_qkv [SHARED_DIR]   (default: ../shared beside the source tree, or $QKV_SHARED)
//
// Inputs, built in a temp folder from ../shared/models:
//   (a) tinystories-656k (a trained model) safetensors converted to BF16
//   (b) the same converted to F16
//   (c) llama.cpp's tiny-llama Q4_K_M GGUF as it is
//   (d) that Q4_K_M dequantized to an F16 GGUF (few distinct values per tensor)
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "qkv/convert.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/fp16.h"
#include "qkv/gguf.h"
#include "qkv/qkv_file.h"
#include "qkv/quant.h"
#include "qkv/safetensors.h"

using namespace qkv;
namespace fs = std::filesystem;

namespace {

fs::path shared_dir(int argc, char** argv) {
  if (argc > 1) return argv[1];
  if (const char* e = std::getenv("QKV_SHARED")) return e;
  return fs::path(QKV_SOURCE_DIR) / ".." / "shared";
}

// Best time of repeated runs, at least `min_s` seconds in all.
double best_seconds(const std::function<void()>& fn, double min_s = 0.5) {
  double best = 1e30, total = 0;
  for (int i = 0; i < 50 && (i < 2 || total < min_s); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    total += s;
  }
  return best;
}

// The tensors re-saved in `type` (F16 or BF16) by the converter.
void safetensors_as(const fs::path& f32_file, const char* type, const fs::path& out) {
  ConvertOptions o;
  o.type = type;
  o.progress = false;
  convert_to_hf(f32_file.string(), out.string(), o);
}

// Every quantized tensor dequantized to F16; the others as they are.
void gguf_dequantized_f16(const fs::path& in_path, const fs::path& out) {
  const auto in = gguf::File::open(in_path.string());
  auto tensors = in.tensors();
  for (auto& t : tensors)
    if (type_info(t.type).quantized) t.type = TensorType::F16;
  gguf::Writer w(out.string(), in.metadata(), tensors);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& src = in.tensors()[i];
    if (!type_info(src.type).quantized) {
      w.write_tensor(in.tensor_data(i));
      continue;
    }
    const int64_t cols = static_cast<int64_t>(src.shape[0]), rows = static_cast<int64_t>(src.n_elements()) / cols;
    std::vector<float> f(src.n_elements());
    quant::dequantize(src.type, in.tensor_data(i).data(), f.data(), rows, cols);
    std::vector<uint16_t> h(f.size());
    fp32_to_fp16_row(f.data(), h.data(), f.size());
    w.write_tensor({reinterpret_cast<const uint8_t*>(h.data()), h.size() * 2});
  }
  w.finish();
}

struct Row {
  std::string method;
  double ratio, comp_mbs, decomp_mbs;
};

std::vector<Row> measure(const fs::path& file, const fs::path& tmp) {
  const MappedFile map(file.string());
  const double mb = map.size() / 1e6;
  std::vector<Row> rows;

  const auto packed = tmp / "bench.qkv";
  qkvfile::CompressOptions co;
  co.threads = 1;
  co.progress = false;
  const double tc = best_seconds([&] { qkvfile::compress(file.string(), packed.string(), co); });
  std::vector<uint8_t> out(map.size());
  const double td = best_seconds([&] {
    const auto r = qkvfile::Reader::open(packed.string());
    r.restore(r.entries().at(0), out, 1);
  });
  if (!std::equal(out.begin(), out.end(), map.bytes().begin())) throw std::runtime_error("qkv round trip differs");
  rows.push_back({"qkv", double(fs::file_size(packed)) / map.size(), mb / tc, mb / td});

  for (int level : {3, 19}) {
    std::vector<uint8_t> z(ZSTD_compressBound(map.size()));
    size_t zn = 0;
    const double zc = best_seconds([&] { zn = ZSTD_compress(z.data(), z.size(), map.data(), map.size(), level); });
    if (ZSTD_isError(zn)) throw std::runtime_error("zstd failed");
    const double zd = best_seconds([&] { ZSTD_decompress(out.data(), out.size(), z.data(), zn); });
    if (!std::equal(out.begin(), out.end(), map.bytes().begin())) throw std::runtime_error("zstd round trip differs");
    rows.push_back({"zstd -" + std::to_string(level), double(zn) / map.size(), mb / zc, mb / zd});
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const fs::path models = shared_dir(argc, argv) / "models";
    const fs::path tmp =
        fs::exists("/dev/shm") ? fs::path("/dev/shm/qkv-bench-qkv") : fs::temp_directory_path() / "qkv-bench-qkv";
    fs::create_directories(tmp);
    const auto st = models / "hf-llama-tinystories-656k/model.safetensors";
    const auto q4 = models / "gguf-llamacpp-quantized/tiny-llama-Q4_K_M.gguf";
    safetensors_as(st, "BF16", tmp / "bf16.safetensors");
    safetensors_as(st, "F16", tmp / "f16.safetensors");
    gguf_dequantized_f16(q4, tmp / "dequant-f16.gguf");
    const std::vector<std::pair<std::string, fs::path>> inputs = {
        {"(a) BF16 safetensors, tinystories-656k", tmp / "bf16.safetensors"},
        {"(b) F16 safetensors, tinystories-656k", tmp / "f16.safetensors"},
        {"(c) Q4_K_M GGUF, tiny-llama", q4},
        {"(d) F16 GGUF dequantized from Q4_K_M", tmp / "dequant-f16.gguf"},
    };
    std::printf("%-40s %10s  %-9s %8s %14s %16s\n", "input", "MB", "method", "ratio", "compress MB/s",
                "decompress MB/s");
    for (const auto& [name, path] : inputs) {
      const double mb = fs::file_size(path) / 1e6;
      bool first = true;
      for (const Row& r : measure(path, tmp)) {
        std::printf("%-40s %10s  %-9s %7.2f%% %14.1f %16.1f\n", first ? name.c_str() : "",
                    first ? (std::to_string(mb).substr(0, 6)).c_str() : "", r.method.c_str(), 100 * r.ratio, r.comp_mbs,
                    r.decomp_mbs);
        first = false;
      }
    }
    std::printf("\n(one thread each; MB/s of original bytes; best of repeated runs)\n");
    fs::remove_all(tmp);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_qkv: %s\n", e.what());
    return 1;
  }
}
