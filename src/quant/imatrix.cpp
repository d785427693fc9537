#include "qkv/imatrix.h"

#include <cmath>
#include <cstring>

#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/gguf.h"

namespace qkv::quant {
namespace {

constexpr std::string_view kSumSuffix = ".in_sum2", kCountSuffix = ".counts";

std::vector<float> tensor_floats(const gguf::File& f, size_t i) {
  const auto& t = f.tensors()[i];
  if (t.type != TensorType::F32)
    throw Error(ErrorKind::Format, "imatrix tensors must be F32", f.path(), t.name);
  const auto bytes = f.tensor_data(i);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

ImportanceMatrix load_gguf(const std::string& path) {
  const auto f = gguf::File::open(path);
  ImportanceMatrix m;
  if (const auto* d = f.metadata().find("imatrix.datasets"); d && d->type == gguf::ValueType::ARRAY)
    for (const auto& s : d->items)
      if (s.type == gguf::ValueType::STRING) m.datasets.push_back(s.str);
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& t = f.tensors()[i];
    if (t.name.size() <= kSumSuffix.size() || !t.name.ends_with(kSumSuffix)) continue;
    const std::string name = t.name.substr(0, t.name.size() - kSumSuffix.size());
    const auto* counts_info = f.find_tensor(name + std::string(kCountSuffix));
    if (!counts_info) throw Error(ErrorKind::Format, "has no matching " + name + ".counts tensor", path, t.name);
    const size_t ci = static_cast<size_t>(counts_info - f.tensors().data());
    auto sums = tensor_floats(f, i);
    const auto counts = tensor_floats(f, ci);
    const uint64_t n_per_row = t.shape[0];
    const uint64_t n_mat = sums.size() / n_per_row;
    if (counts.size() != n_mat)
      throw Error(ErrorKind::Format, "has " + std::to_string(counts.size()) + " counts for " + std::to_string(n_mat) +
                                         " matrices", path, counts_info->name);
    for (uint64_t j = 0; j < n_mat; ++j)
      for (uint64_t k = 0; k < n_per_row; ++k) {
        float& w = sums[j * n_per_row + k];
        w = counts[j] > 0 ? w / counts[j] : 1.0f;
      }
    m.weights.emplace(name, std::move(sums));
  }
  return m;
}

// Legacy llama-imatrix .dat: int32 count, then per entry: int32 name length,
// name, int32 ncall, int32 nval, nval floats (already averaged per call).
ImportanceMatrix load_legacy(const std::string& path, const MappedFile& f) {
  ImportanceMatrix m;
  size_t pos = 0;
  auto read_i32 = [&](const char* what) {
    if (f.size() - pos < 4) throw Error(ErrorKind::Format, std::string("truncated imatrix: ") + what, path, {}, pos);
    int32_t v;
    std::memcpy(&v, f.data() + pos, 4);
    pos += 4;
    if (v < 0) throw Error(ErrorKind::Format, std::string("negative ") + what, path, {}, pos - 4);
    return static_cast<size_t>(v);
  };
  const size_t n = read_i32("entry count");
  for (size_t e = 0; e < n; ++e) {
    const size_t len = read_i32("name length");
    if (f.size() - pos < len) throw Error(ErrorKind::Format, "truncated imatrix name", path, {}, pos);
    std::string name(reinterpret_cast<const char*>(f.data() + pos), len);
    pos += len;
    const size_t ncall = read_i32("call count");
    const size_t nval = read_i32("value count");
    if ((f.size() - pos) / 4 < nval) throw Error(ErrorKind::Format, "truncated imatrix values", path, name, pos);
    std::vector<float> w(nval);
    std::memcpy(w.data(), f.data() + pos, nval * 4);
    pos += nval * 4;
    if (ncall > 0)
      for (float& x : w) x /= static_cast<float>(ncall);
    m.weights.emplace(std::move(name), std::move(w));
  }
  return m;
}

}  // namespace

const std::vector<float>* ImportanceMatrix::find(const std::string& tensor) const {
  auto it = weights.find(tensor);
  return it == weights.end() ? nullptr : &it->second;
}

ImportanceMatrix load_imatrix(const std::string& path) {
  ImportanceMatrix m;
  {
    MappedFile f(path);
    const bool is_gguf = f.size() >= 4 && std::memcmp(f.data(), "GGUF", 4) == 0;
    m = is_gguf ? load_gguf(path) : load_legacy(path, f);
  }
  for (const auto& [name, w] : m.weights)
    for (float x : w)
      if (!std::isfinite(x)) throw Error(ErrorKind::Integrity, "importance weights are not finite", path, name);
  if (m.weights.empty()) throw Error(ErrorKind::Format, "holds no importance weights", path);
  return m;
}

void save_imatrix(const ImatrixSums& sums, const std::string& path) {
  gguf::Metadata md;
  md.set("general.type", gguf::Value::string("imatrix"));
  md.set("imatrix.datasets", gguf::Value::string_array(sums.datasets));
  md.set("imatrix.chunk_count", gguf::Value::u32(sums.chunks));
  md.set("imatrix.chunk_size", gguf::Value::u32(sums.chunk_size));
  std::vector<gguf::TensorInfo> infos;
  for (const auto& [name, e] : sums.tensors) {
    // One matrix per tensor (no experts): ggml drops the trailing 1 of [cols, 1] and [1, 1].
    infos.push_back({name + std::string(kSumSuffix), {e.sum2.size()}, TensorType::F32, 0});
    infos.push_back({name + std::string(kCountSuffix), {1}, TensorType::F32, 0});
  }
  gguf::Writer w(path, md, infos);
  auto write_floats = [&](const std::vector<float>& v) {
    w.write_tensor({reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)});
  };
  for (const auto& [name, e] : sums.tensors) {
    write_floats(std::vector<float>(e.sum2.begin(), e.sum2.end()));
    write_floats({static_cast<float>(e.count)});
  }
  w.finish();
}

}  // namespace qkv::quant
