#include "quant/golden.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace qkv::test {

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> out;
  if (shared_dir().empty()) return out;
  const auto root = shared_dir() / "golden" / "quant";
  std::ifstream f(root / "manifest.json");
  if (!f) return out;
  const auto m = nlohmann::json::parse(f);
  for (const auto& c : m.at("cases")) {
    GoldenCase gc;
    gc.name = c.at("name");
    gc.nrows = c.at("nrows");
    gc.n_per_row = c.at("n_per_row");
    gc.input = root / c.at("files").at("input").at("path").get<std::string>();
    gc.imatrix = root / c.at("files").at("imatrix").at("path").get<std::string>();
    for (const auto& r : c.at("results")) {
      GoldenResult gr;
      gr.type = r.at("type");
      gr.imatrix = r.at("imatrix");
      gr.quant = root / r.at("quant").at("path").get<std::string>();
      gr.dequant = root / r.at("dequant").at("path").get<std::string>();
      gr.row_size = r.at("row_size");
      gc.results.push_back(std::move(gr));
    }
    out.push_back(std::move(gc));
  }
  return out;
}

}  // namespace qkv::test

namespace qkv::test {
namespace {

std::string hex_bytes(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
    s += (i + 1) % 32 == 0 ? '\n' : ' ';
  }
  return s;
}

}  // namespace

int check_golden_type(const std::string& type, QuantizeRowFn quantize, DequantizeRowFn dequantize,
                      int block_elems, int block_bytes) {
  int checked = 0;
  for (const auto& c : golden_cases()) {
    const auto input = read_floats(c.input);
    const auto imatrix = read_floats(c.imatrix);
    for (const auto& r : c.results) {
      if (r.type != type) continue;
      ++checked;
      const std::string where = c.name + "/" + type + (r.imatrix ? ".imat" : "");
      const auto want_q = read_bytes(r.quant);
      const auto want_deq = read_floats(r.dequant);
      const size_t row_size = r.row_size;
      EXPECT_EQ(row_size, static_cast<size_t>(c.n_per_row / block_elems * block_bytes)) << where;
      std::vector<uint8_t> got_q(row_size);
      std::vector<float> got_deq(c.n_per_row);
      int bad_blocks = 0;
      for (int64_t row = 0; row < c.nrows; ++row) {
        quantize(input.data() + row * c.n_per_row, got_q.data(), c.n_per_row,
                 r.imatrix ? imatrix.data() : nullptr);
        const uint8_t* want = want_q.data() + row * row_size;
        for (size_t b = 0; b < row_size / block_bytes; ++b) {
          const uint8_t* g = got_q.data() + b * block_bytes;
          const uint8_t* w = want + b * block_bytes;
          if (std::memcmp(g, w, block_bytes) != 0 && ++bad_blocks <= 3) {
            ADD_FAILURE() << where << ": quantized bytes differ at row " << row << ", block " << b
                          << "\n ggml: " << hex_bytes(w, block_bytes) << "\n ours: " << hex_bytes(g, block_bytes);
          }
        }
        dequantize(want, got_deq.data(), c.n_per_row);
        for (int64_t i = 0; i < c.n_per_row; ++i) {
          const float w = want_deq[row * c.n_per_row + i];
          if (std::memcmp(&got_deq[i], &w, 4) != 0) {
            ADD_FAILURE() << where << ": dequantized value differs at row " << row << ", element " << i
                          << " (block " << i / block_elems << "): ggml " << w << ", ours " << got_deq[i];
            break;
          }
        }
      }
      if (bad_blocks > 3) ADD_FAILURE() << where << ": " << bad_blocks << " blocks differ in all";
    }
  }
  return checked;
}

int check_golden_dequant(const std::string& type, DequantizeRowFn dequantize, int block_elems, int block_bytes) {
  int checked = 0;
  for (const auto& c : golden_cases())
    for (const auto& r : c.results) {
      if (r.type != type) continue;
      ++checked;
      const std::string where = c.name + "/" + type + (r.imatrix ? ".imat" : "");
      const auto q = read_bytes(r.quant);
      const auto want = read_floats(r.dequant);
      EXPECT_EQ(r.row_size, static_cast<uint64_t>(c.n_per_row / block_elems * block_bytes)) << where;
      std::vector<float> got(c.n_per_row);
      for (int64_t row = 0; row < c.nrows; ++row) {
        dequantize(q.data() + row * r.row_size, got.data(), c.n_per_row);
        for (int64_t i = 0; i < c.n_per_row; ++i) {
          const float w = want[row * c.n_per_row + i];
          if (std::memcmp(&got[i], &w, 4) != 0) {
            ADD_FAILURE() << where << ": dequantized value differs at row " << row << ", element " << i << " (block "
                          << i / block_elems << "): ggml " << w << ", ours " << got[i];
            break;
          }
        }
      }
    }
  return checked;
}

}  // namespace qkv::test
